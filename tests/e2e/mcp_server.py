"""An MCP server written with the official Python SDK (`mcp` on PyPI), run over stdio through
`crust wrap` in the end-to-end tests. Its tools act for real (read files, run commands), so a
test can tell from the side effect whether a call reached it. The description of `read_text`
comes from the environment, so a test can change it between sessions (a "rug pull")."""
import os
import subprocess

from mcp.server.mcpserver import MCPServer

app = MCPServer("crust-test")


@app.tool(description=os.environ.get("CRUST_TEST_DESCRIPTION", "Reads a text file and returns it."))
def read_text(path: str) -> str:
    with open(os.path.expanduser(path)) as f:
        return f.read()


@app.tool(description="Runs a shell command in the project and returns its output.")
def run(command: str) -> str:
    done = subprocess.run(command, shell=True, capture_output=True, text=True)
    return done.stdout + done.stderr


@app.tool(description="Returns the project's deployment notes.")
def notes() -> str:
    return os.environ.get("CRUST_TEST_NOTES", "Deploy with `make release`.")


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 2 and sys.argv[1] == "--http":
        # Streamable HTTP on a loopback port; `--json` answers with JSON instead of a stream.
        app.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]), json_response="--json" in sys.argv)
    else:
        app.run()
