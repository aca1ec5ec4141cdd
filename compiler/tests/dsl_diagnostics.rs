//! What users read when a `.crust` file is wrong, snapshot-tested (insta): one snapshot per
//! kind of mistake, each rendered exactly as `crustc` prints it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use crust_compiler::compile_sources;

/// Compiles one `.crust` file; the rendered diagnostics (errors and warnings).
fn diagnose(text: &str) -> String {
    match compile_sources(vec![("policy.crust".into(), text.into())]) {
        Ok(c) => format!("(compiled)\n{}", c.diagnostics.render(&c.sources)),
        Err(e) => e.render(),
    }
}

macro_rules! case {
    ($name:ident, $text:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(stringify!($name), diagnose($text));
        }
    };
}

// A regex closed early by a doubled backslash: one error for the line, not one per character.
case!(
    regex_closed_early,
    "set s = [\n    /^a\\\\/b(?:c|d)*?[x]/,\n]\n\nblock r {\n    when command in s\n}\n"
);
case!(
    misspelled_item_keyword,
    "blok no-env {\n    when path in [\"**/.env\"]\n}\n"
);
case!(
    misspelled_clause_keyword,
    "block no-env {\n    when path in [\"**/.env\"]\n    mesage \"no\"\n}\n"
);
case!(
    misspelled_operator,
    "block no-env {\n    when path inn [\"**/.env\"]\n}\n"
);
case!(
    unknown_field,
    "block no-env {\n    when pth in [\"**/.env\"]\n}\n"
);
case!(
    misspelled_set_name,
    "set env_files = [\"**/.env\"]\n\nblock no-env {\n    when path in env_file\n}\n"
);
case!(
    undefined_set,
    "block no-env {\n    when path in secrets\n}\n"
);
case!(
    set_defined_twice,
    "set s = [\"a\"]\nset s = [\"b\"]\n\nblock r {\n    when path in s\n}\n"
);
case!(
    duplicate_rule,
    "block r {\n    when path in [\"a\"]\n}\n\nblock r {\n    when path in [\"b\"]\n}\n"
);
case!(
    regex_does_not_compile,
    "block r {\n    when command matches /curl (-d|--data/\n}\n"
);
case!(
    glob_does_not_compile,
    "block r {\n    when path matches \"**/[abc\"\n}\n"
);
case!(
    misspelled_action,
    "block r {\n    when action is wrtie and path in [\"a\"]\n}\n"
);
case!(
    misspelled_severity,
    "block r {\n    when path in [\"a\"]\n    severity hihg\n}\n"
);
case!(missing_when, "block r {\n    message \"no\"\n}\n");
case!(
    when_twice,
    "block r {\n    when path in [\"a\"]\n    when host is \"b\"\n}\n"
);
case!(
    locked_allow_rule,
    "allow r {\n    when path in [\"a\"]\n    locked\n}\n"
);
case!(
    unterminated_string,
    "block r {\n    when path in [\"a]\n}\n"
);
case!(
    unknown_escape,
    "block r {\n    when path matches \"\\*.env\"\n}\n"
);
case!(
    single_quotes,
    "block r {\n    when path is '/etc/shadow'\n}\n"
);
case!(
    unfinished_rule_before_the_next,
    "block r {\n    when path in [\"a\"]\n\nblock s {\n    when path in [\"b\"]\n}\n"
);
case!(
    condition_cut_short,
    "block r {\n    when path in [\"a\"] and\n}\n"
);
case!(
    unexpected_end_of_file,
    "block r {\n    when path in [\"a\"]\n"
);
case!(
    is_with_a_regex,
    "block r {\n    when command is /rm -rf/\n}\n"
);
case!(
    action_with_matches,
    "block r {\n    when action matches \"wr*\"\n}\n"
);
case!(empty_list, "block r {\n    when path in []\n}\n");
case!(
    unknown_variable_in_path,
    "block r {\n    when path in [\"$XDG_CONFIG_HOME/app/token\"]\n}\n"
);
case!(
    disable_unknown_rule,
    "block r {\n    when path in [\"a\"]\n}\n\ndisable rr\n"
);
case!(
    disable_locked_rule,
    "block r {\n    when path in [\"a\"]\n    locked\n}\n\ndisable r\n"
);
case!(
    unknown_regex_flag,
    "block r {\n    when command matches /curl/q\n}\n"
);
case!(
    set_named_like_a_field,
    "set path = [\"a\"]\n\nblock r {\n    when path in path\n}\n"
);
case!(
    unused_set_is_a_warning,
    "set unused = [\"a\"]\n\nblock r {\n    when path in [\"b\"]\n}\n"
);
case!(
    every_error_in_the_file,
    "set keys = [\"$HOME/.ssh/id_*\"]\n\nblock a {\n    when path in kyes\n}\n\nblock b {\n    when pth is \"x\"\n    severity severe\n}\n\nallow c {\n    wen path in keys\n}\n\nblock d {\n    when action in [read, raed] and path in keys\n}\n"
);
