//! Team mode: Crust as an Envoy external processor (`envoy.service.ext_proc.v3`). Envoy (or
//! Envoy Gateway, Istio, agentgateway) sends each HTTP exchange over one gRPC stream; the
//! stream goes through the same request stage and the same answer filters as the proxy's own
//! traffic, so a call is judged the same whichever way it came.
//!
//! The filter must send request bodies `BUFFERED` (judged whole before anything goes
//! upstream) and response bodies `FULL_DUPLEX_STREAMED` with trailers `SEND` (text released as
//! it comes, a tool call held until judged). Every per-request fact lives on the gRPC stream,
//! so replicas are interchangeable. What Crust cannot account for is refused: a request body
//! it never saw, a configuration that would bypass it, an answer it cannot read.

use super::apis::Api;
use super::batch::Batch;
use super::server::{
    judge_answer, judge_request, stream_filter, Asked, Asking, Hints, Shared, Stream, StreamContext,
};
use super::{decode, outbound};
use crate::Engine;
use bytes::Bytes;
use envoy_types::pb::envoy::config::core::v3::{
    HeaderMap as PbHeaders, HeaderValue, HeaderValueOption,
};
use envoy_types::pb::envoy::extensions::filters::http::ext_proc::v3::processing_mode::BodySendMode;
use envoy_types::pb::envoy::r#type::v3::HttpStatus;
use envoy_types::pb::envoy::service::ext_proc::v3::external_processor_server::{
    ExternalProcessor, ExternalProcessorServer,
};
use envoy_types::pb::envoy::service::ext_proc::v3::{
    body_mutation, processing_request, processing_response, BodyMutation, BodyResponse,
    CommonResponse, HeaderMutation, HeadersResponse, HttpBody, HttpHeaders, ImmediateResponse,
    ProcessingRequest, ProcessingResponse, StreamedBodyResponse, TrailersResponse,
};
use http_body_util::BodyExt;
use hyper::header::{HeaderMap, HeaderName};
use std::net::SocketAddr;
use std::sync::Arc;
use tonic::{Request, Response, Status, Streaming};

/// A home directory a client names. Not trusted: a cloned repository's agent settings can set
/// a client's headers, and a home of `/` would turn every home rule off. Every user's home
/// counts instead ([`crate::normalize::ANY_HOME`]); the header is removed before the request
/// goes upstream.
pub const HOME_HEADER: &str = "x-crust-home";
/// The header the client names its working directory in (Claude Code sends it through
/// `ANTHROPIC_CUSTOM_HEADERS`): the project relative paths resolve in. Never a source of the
/// home.
pub const CWD_HEADER: &str = "x-crust-cwd";

/// Binds the ext_proc address (at start, so that a taken port stops the start).
pub(super) async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(listen = %listener.local_addr()?, "crust ext_proc server listening");
    Ok(listener)
}

/// Serves the ext_proc gRPC service until the process stops.
pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
) -> std::io::Result<()> {
    // The message around a body of the largest size accepted, with room for its headers.
    let max_message = shared.config.max_body.saturating_add(1 << 20);
    // Each answer is a small write: without TCP_NODELAY, Nagle's algorithm and Envoy's delayed
    // ACKs hold it for tens of milliseconds (tonic's own `tcp_nodelay` only covers listeners
    // it binds itself).
    let incoming = tokio_stream::StreamExt::map(
        tokio_stream::wrappers::TcpListenerStream::new(listener),
        |s| {
            if let Ok(s) = &s {
                let _ = s.set_nodelay(true);
            }
            s
        },
    );
    tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(
            // A buffered request body arrives in one message: allow the proxy's body limit.
            ExternalProcessorServer::new(Processor { shared })
                .max_decoding_message_size(max_message),
        )
        .serve_with_incoming_shutdown(incoming, super::server::shutdown_signal())
        .await
        .map_err(std::io::Error::other)
}

struct Processor {
    shared: Arc<Shared>,
}

#[tonic::async_trait]
impl ExternalProcessor for Processor {
    type ProcessStream = Answers;

    async fn process(
        &self,
        request: Request<Streaming<ProcessingRequest>>,
    ) -> Result<Response<Self::ProcessStream>, Status> {
        self.shared
            .metrics
            .ext_proc_exchanges
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut inbound = request.into_inner();
        let (tx, rx) = tokio::sync::mpsc::channel(32);
        let shared = Arc::clone(&self.shared);
        let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = Arc::clone(&finished);
        tokio::spawn(async move {
            let mut exchange = Exchange::new(shared);
            loop {
                let message = match inbound.message().await {
                    Ok(Some(m)) => m,
                    // Envoy closed the stream (the exchange is over, or it gave up): nothing
                    // held is ever released.
                    Ok(None) | Err(_) => return,
                };
                let step = exchange.on(message).await;
                for r in step {
                    if tx.send(r).await.is_err() {
                        return;
                    }
                }
                if exchange.over {
                    done.store(true, std::sync::atomic::Ordering::Release);
                    return;
                }
            }
        });
        Ok(Response::new(Answers {
            rx: tokio_stream::wrappers::ReceiverStream::new(rx),
            finished,
            failed: false,
        }))
    }
}

/// The answers of one exchange. Envoy takes a stream that ends cleanly as "go on without the
/// processor", so a stream whose exchange was not finished (its task failed or was dropped
/// mid-way) ends with an error instead: Envoy then fails the exchange (`failure_mode_allow:
/// false`), and nothing held is released.
pub(super) struct Answers {
    rx: tokio_stream::wrappers::ReceiverStream<Result<ProcessingResponse, Status>>,
    finished: Arc<std::sync::atomic::AtomicBool>,
    failed: bool,
}

impl tokio_stream::Stream for Answers {
    type Item = Result<ProcessingResponse, Status>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        match std::pin::Pin::new(&mut self.rx).poll_next(cx) {
            std::task::Poll::Ready(None)
                if !self.failed && !self.finished.load(std::sync::atomic::Ordering::Acquire) =>
            {
                self.failed = true;
                std::task::Poll::Ready(Some(Err(Status::aborted(
                    "crust: the exchange ended before it was judged",
                ))))
            }
            other => other,
        }
    }
}

/// The request as its headers described it.
struct Head {
    api: Option<Api>,
    batch: Option<Batch>,
    headers: HeaderMap,
    path: String,
    hints: Hints,
    /// Where the client reached the gateway (`scheme://authority`).
    origin: Option<String>,
    /// The working directory the client declared.
    cwd: Option<String>,
}

/// What becomes of the answer's body.
enum Answer {
    /// Not inspected (another endpoint, an error status): passed on chunk by chunk.
    Pass,
    /// An event stream, judged event by event.
    Events(Box<Stream>),
    /// A whole JSON answer, judged once complete; its headers wait for it.
    Whole {
        ctx: Box<StreamContext>,
        coding: Option<decode::Coding>,
        headers: Box<HeadersResponse>,
        body: Vec<u8>,
    },
}

/// One HTTP exchange on one gRPC stream.
struct Exchange {
    shared: Arc<Shared>,
    /// The bundle the whole exchange is judged with (taken at its start: a swap mid-exchange
    /// does not mix two policies in one answer).
    snapshot: Arc<Engine>,
    head: Option<Head>,
    body: Vec<u8>,
    /// The request stage ran (a request whose body Crust never saw is never answered).
    judged: Option<Asked>,
    answer: Option<Answer>,
    /// Envoy's declared body modes, when it sends them.
    modes: Option<(i32, i32)>,
    /// A batch answer being read, and the origin its results URLs lead back to.
    batch: Option<(Batch, Option<String>)>,
    /// Nothing more is to be answered on this stream.
    over: bool,
}

type Step = Vec<Result<ProcessingResponse, Status>>;

impl Exchange {
    fn new(shared: Arc<Shared>) -> Exchange {
        let snapshot = shared.snapshot();
        Exchange {
            shared,
            snapshot,
            head: None,
            body: Vec::new(),
            judged: None,
            answer: None,
            modes: None,
            batch: None,
            over: false,
        }
    }

    async fn on(&mut self, m: ProcessingRequest) -> Step {
        if let Some(c) = &m.protocol_config {
            self.modes = Some((c.request_body_mode, c.response_body_mode));
        }
        if m.observability_mode {
            // Envoy ignores the processor's answers in this mode: nothing could be blocked,
            // so nothing is recorded as blocked either.
            tracing::error!("the ext_proc filter runs in observability_mode: Crust cannot block anything; turn it off");
            self.over = true;
            return vec![Err(Status::failed_precondition(
                "crust: observability_mode cannot block; configure the ext_proc filter without it",
            ))];
        }
        use processing_request::Request as R;
        match m.request {
            Some(R::RequestHeaders(h)) => self.request_headers(h).await,
            Some(R::RequestBody(b)) => self.request_body(b).await,
            Some(R::RequestTrailers(_)) => {
                // The buffered body is complete once trailers come.
                let mut step = if self.judged.is_none() {
                    self.request_done().await
                } else {
                    Vec::new()
                };
                if !self.over {
                    step.push(Ok(respond(processing_response::Response::RequestTrailers(
                        TrailersResponse::default(),
                    ))));
                }
                step
            }
            Some(R::ResponseHeaders(h)) => self.response_headers(h).await,
            Some(R::ResponseBody(b)) => self.response_body(b).await,
            Some(R::ResponseTrailers(_)) => self.response_trailers().await,
            None => {
                self.refuse(500, "an ext_proc message with nothing in it")
                    .await
            }
        }
    }

    async fn request_headers(&mut self, h: HttpHeaders) -> Step {
        // Envoy declares its body modes on each stream; one that does not (or declares others)
        // could be skipping bodies Crust must see, so the exchange is refused.
        let declared = self.modes.is_some_and(|(req, resp)| {
            req == BodySendMode::Buffered as i32 && resp == BodySendMode::FullDuplexStreamed as i32
        });
        if !declared {
            return self
                .refuse(
                    500,
                    "the ext_proc filter must send request bodies BUFFERED and response \
                     bodies FULL_DUPLEX_STREAMED (with response_trailer_mode SEND), and declare \
                     them (Envoy 1.34 or later), or Crust cannot judge the exchange",
                )
                .await;
        }
        let (headers, pseudo) = headers_of(h.headers.as_ref());
        let get = |k: &str| pseudo.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let method = get(":method").unwrap_or("GET");
        let path = get(":path").unwrap_or("/");
        let method = hyper::Method::from_bytes(method.as_bytes()).unwrap_or(hyper::Method::GET);
        let canon = outbound::canonical_path(path.split('?').next().unwrap_or("/"));
        let api = Api::classify(&method, &canon);
        let batch = api
            .is_none()
            .then(|| Batch::classify(&method, &canon))
            .flatten();
        if super::server::is_websocket_upgrade(&headers) {
            return self.immediate(super::server::websocket_refusal()).await;
        }
        let declared = |k: &str| {
            headers
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| v.starts_with('/'))
                .map(|v| crate::normalize::normalize_dir(v, "/"))
        };
        let mut hints = Hints::of(&headers);
        if let Some(user) = self
            .shared
            .config
            .team
            .user_header
            .as_deref()
            // A gateway that appends its value puts it after any the client sent.
            .and_then(|k| headers.get_all(k).iter().next_back())
            .and_then(|v| v.to_str().ok())
        {
            hints.user = Some(user.chars().take(200).collect());
        }
        let origin =
            get(":authority").map(|a| format!("{}://{a}", get(":scheme").unwrap_or("http")));
        self.head = Some(Head {
            api,
            batch,
            origin,
            path: canon,
            hints,
            cwd: declared(CWD_HEADER),
            headers,
        });
        if h.end_of_stream {
            // No body: judged now (an empty body sends nothing, but is still accounted for).
            let mut step = self.request_done().await;
            if self.over {
                return step;
            }
            step.insert(0, Ok(self.request_headers_answer()));
            return step;
        }
        // The headers go on only with the body, which the buffered mode holds until judged.
        vec![Ok(self.request_headers_answer())]
    }

    /// The request's headers on their way upstream: Crust's own headers removed, and answers
    /// asked for uncompressed where they will be inspected.
    fn request_headers_answer(&self) -> ProcessingResponse {
        let inspected = self
            .head
            .as_ref()
            .is_some_and(|h| h.api.is_some() || h.batch.is_some());
        let mut mutation = HeaderMutation {
            remove_headers: vec![HOME_HEADER.into(), CWD_HEADER.into()],
            ..Default::default()
        };
        if inspected {
            mutation
                .set_headers
                .push(header_option("accept-encoding", "identity"));
        }
        respond(processing_response::Response::RequestHeaders(
            HeadersResponse {
                response: Some(CommonResponse {
                    header_mutation: Some(mutation),
                    ..Default::default()
                }),
            },
        ))
    }

    async fn request_body(&mut self, b: HttpBody) -> Step {
        if self.head.is_none() {
            return self
                .refuse(500, "a request body came before its headers")
                .await;
        }
        if self.body.len().saturating_add(b.body.len()) > self.shared.config.max_body {
            return self
                .refuse(413, "the request body is larger than Crust accepts")
                .await;
        }
        self.body.extend_from_slice(&b.body);
        // Buffered mode (checked at the headers) sends the whole body in one message, with
        // `end_of_stream` false when trailers follow, even trailers Envoy will not send: it is
        // judged now, not waited on.
        let mut step = self.request_done().await;
        if !self.over {
            step.push(Ok(respond(processing_response::Response::RequestBody(
                BodyResponse::default(),
            ))));
        }
        step
    }

    /// The whole request is here: the request stage judges it.
    async fn request_done(&mut self) -> Step {
        let Some(head) = &self.head else {
            return self.refuse(500, "a request with no headers").await;
        };
        // Whose home it is cannot be known from anything a client or a model can write: every
        // user's home counts (errs toward blocking).
        let asking = Asking {
            api: head.api,
            batch: head.batch,
            headers: &head.headers,
            path: &head.path,
            hints: &head.hints,
            home: crate::normalize::ANY_HOME,
            cwd: head.cwd.as_deref(),
        };
        match judge_request(&self.shared, &self.snapshot, &asking, &self.body) {
            Ok(asked) => {
                self.judged = Some(asked);
                self.body = Vec::new();
                Vec::new()
            }
            Err(refusal) => self.immediate(refusal).await,
        }
    }

    async fn response_headers(&mut self, h: HttpHeaders) -> Step {
        let Some(asked) = self.judged.take() else {
            // Envoy is configured to skip the request body (or sent none while announcing
            // one): the request went out unjudged, so its answer is not released.
            return self
                .refuse(
                    502,
                    "crust: the request was not inspected (the ext_proc filter must send \
                     request bodies BUFFERED), so its answer is withheld",
                )
                .await;
        };
        let Some(head) = self.head.take() else {
            return self.refuse(500, "an answer to no request").await;
        };
        let (headers, pseudo) = headers_of(h.headers.as_ref());
        let status: u16 = pseudo
            .iter()
            .find(|(n, _)| n == ":status")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let ok = (200..300).contains(&status);
        let pass = || {
            respond(processing_response::Response::ResponseHeaders(
                HeadersResponse::default(),
            ))
        };
        // Batch objects and results are answers of their own shapes: judged whole.
        let api = match (head.api, head.batch) {
            (Some(api), _) if ok => api,
            _ => {
                if let Some(b) = head
                    .batch
                    .filter(|b| ok && (b.has_answers() || b.has_batch_objects()))
                {
                    return self
                        .batch_answer(b, head, asked, &headers, h.end_of_stream)
                        .await;
                }
                self.answer = Some(Answer::Pass);
                return vec![Ok(pass())];
            }
        };
        let coding = match decode::coding(&headers) {
            Ok(c) => c,
            Err(why) => {
                return self
                    .immediate(super::server::uninspectable(api, &why))
                    .await
            }
        };
        let is_sse = super::server::is_event_stream(&headers);
        let ctx = StreamContext {
            api,
            home: asked.home,
            cwd: asked.cwd,
            substitute: asked.substitute,
            hints: head.hints,
            decoder: None,
        };
        let answer_headers = HeadersResponse {
            response: Some(CommonResponse {
                header_mutation: Some(HeaderMutation {
                    remove_headers: vec!["content-length".into(), "content-encoding".into()],
                    ..Default::default()
                }),
                ..Default::default()
            }),
        };
        if is_sse {
            let mut ctx = ctx;
            ctx.decoder = match coding.map(|c| decode::Decoder::new(c, self.shared.config.max_body))
            {
                None => None,
                Some(Ok(d)) => Some(d),
                Some(Err(why)) => {
                    return self
                        .immediate(super::server::uninspectable(api, &why))
                        .await
                }
            };
            let mut stream = Stream::detached(
                Arc::clone(&self.shared),
                Arc::clone(&self.snapshot),
                ctx,
                stream_filter(api),
            );
            let mut step = vec![Ok(respond(processing_response::Response::ResponseHeaders(
                answer_headers,
            )))];
            if h.end_of_stream {
                // An event stream with no body at all was cut before it began.
                stream.end(Err("the upstream sent no events".into()));
                step.push(Ok(body_chunk(stream.take_out(), true)));
                self.over = true;
            } else {
                self.answer = Some(Answer::Events(Box::new(stream)));
            }
            return step;
        }
        self.answer = Some(Answer::Whole {
            ctx: Box::new(ctx),
            coding,
            headers: Box::new(answer_headers),
            body: Vec::new(),
        });
        if h.end_of_stream {
            return self.whole_done(false).await;
        }
        Vec::new()
    }

    /// Batch results and batch objects: read whole, then judged or rewritten by the proxy's
    /// own batch stage.
    async fn batch_answer(
        &mut self,
        b: Batch,
        head: Head,
        asked: Asked,
        headers: &HeaderMap,
        end: bool,
    ) -> Step {
        let api = b.api();
        let coding = match decode::coding(headers) {
            Ok(c) => c,
            Err(why) => {
                return self
                    .immediate(super::server::uninspectable(api, &why))
                    .await
            }
        };
        // Where the client reached the gateway, for results URLs that lead back through it.
        let origin = head.origin.clone();
        let ctx = StreamContext {
            api,
            home: asked.home,
            cwd: asked.cwd,
            substitute: None,
            hints: head.hints,
            decoder: None,
        };
        self.answer = Some(Answer::Whole {
            ctx: Box::new(ctx),
            coding,
            headers: Box::new(HeadersResponse {
                response: Some(CommonResponse {
                    header_mutation: Some(HeaderMutation {
                        remove_headers: vec!["content-length".into(), "content-encoding".into()],
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            }),
            body: Vec::new(),
        });
        self.batch = Some((b, origin));
        if end {
            return self.whole_done(false).await;
        }
        Vec::new()
    }

    async fn response_body(&mut self, b: HttpBody) -> Step {
        match self.answer.as_mut() {
            None => {
                self.refuse(500, "an answer's body came before its headers")
                    .await
            }
            Some(Answer::Pass) => {
                let end = b.end_of_stream;
                if end {
                    self.over = true;
                }
                vec![Ok(body_chunk(b.body, end))]
            }
            Some(Answer::Events(stream)) => {
                stream.push(&b.body);
                if b.end_of_stream {
                    stream.end(Ok(()));
                    self.over = true;
                }
                let out = stream.take_out();
                if out.is_empty() && !b.end_of_stream {
                    return Vec::new();
                }
                vec![Ok(body_chunk(out, b.end_of_stream))]
            }
            Some(Answer::Whole { body, .. }) => {
                if body.len().saturating_add(b.body.len()) > self.shared.config.max_body {
                    let api = self.answer_api();
                    return self
                        .immediate(super::server::uninspectable(
                            api,
                            "the answer is larger than Crust accepts",
                        ))
                        .await;
                }
                body.extend_from_slice(&b.body);
                if b.end_of_stream {
                    return self.whole_done(false).await;
                }
                Vec::new()
            }
        }
    }

    async fn response_trailers(&mut self) -> Step {
        let trailers = || {
            Ok(respond(processing_response::Response::ResponseTrailers(
                TrailersResponse::default(),
            )))
        };
        match self.answer.as_mut() {
            Some(Answer::Events(stream)) => {
                stream.end(Ok(()));
                self.over = true;
                vec![Ok(body_chunk(stream.take_out(), false)), trailers()]
            }
            Some(Answer::Whole { .. }) => {
                let mut step = self.whole_done(true).await;
                if !step.iter().any(is_immediate) {
                    step.push(trailers());
                }
                step
            }
            _ => {
                self.over = true;
                vec![trailers()]
            }
        }
    }

    fn answer_api(&self) -> Api {
        match &self.answer {
            Some(Answer::Whole { ctx, .. }) => ctx.api,
            _ => Api::Anthropic,
        }
    }

    /// A whole answer is here: judged, then its headers and body released together.
    async fn whole_done(&mut self, trailers: bool) -> Step {
        let Some(Answer::Whole {
            ctx,
            coding,
            headers,
            body,
        }) = self.answer.take()
        else {
            return self.refuse(500, "no answer to finish").await;
        };
        self.over = !trailers;
        let api = ctx.api;
        let bytes = match coding {
            None => Bytes::from(body),
            Some(c) => match super::server::decode_all(c, &body, self.shared.config.max_body) {
                Ok(d) => Bytes::from(d),
                Err(why) => {
                    return self
                        .immediate(super::server::uninspectable(api, &why))
                        .await
                }
            },
        };
        let judged = match self.batch.take() {
            Some((b, origin)) => super::server::judge_batch_answer(
                &self.shared,
                &self.snapshot,
                b,
                &ctx,
                origin.as_deref(),
                bytes,
            ),
            None => judge_answer(&self.shared, &self.snapshot, &ctx, bytes),
        };
        match judged {
            Ok(out) => vec![
                Ok(respond(processing_response::Response::ResponseHeaders(
                    *headers,
                ))),
                Ok(body_chunk(out.to_vec(), !trailers)),
            ],
            Err(refusal) => self.immediate(refusal).await,
        }
    }

    /// An internal refusal: Crust's own error in the API's shape.
    async fn refuse(&mut self, status: u16, why: &str) -> Step {
        let api = self.head.as_ref().and_then(|h| h.api);
        let status =
            hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
        let message = if why.starts_with("crust:") {
            why.to_owned()
        } else {
            format!("crust: {why}")
        };
        tracing::warn!(reason = %message, "ext_proc exchange refused");
        self.immediate(super::server::error(api, status, "api_error", &message))
            .await
    }

    /// The exchange ends with this answer in place of the upstream's.
    async fn immediate(&mut self, r: hyper::Response<super::server::BoxBody>) -> Step {
        self.over = true;
        let (parts, body) = r.into_parts();
        let body = match body.collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => Bytes::from_static(b"crust: refused"),
        };
        let set_headers = parts
            .headers
            .iter()
            .filter_map(|(k, v)| Some(header_option(k.as_str(), v.to_str().ok()?)))
            .collect();
        vec![Ok(respond(
            processing_response::Response::ImmediateResponse(ImmediateResponse {
                status: Some(HttpStatus {
                    code: i32::from(parts.status.as_u16()),
                }),
                headers: Some(HeaderMutation {
                    set_headers,
                    ..Default::default()
                }),
                body: body.to_vec(),
                grpc_status: None,
                details: "crust".into(),
            }),
        ))]
    }
}

fn is_immediate(r: &Result<ProcessingResponse, Status>) -> bool {
    matches!(
        r,
        Ok(ProcessingResponse {
            response: Some(processing_response::Response::ImmediateResponse(_)),
            ..
        })
    )
}

fn respond(r: processing_response::Response) -> ProcessingResponse {
    ProcessingResponse {
        response: Some(r),
        ..Default::default()
    }
}

/// A chunk of the answer's body in full-duplex mode.
fn body_chunk(body: Vec<u8>, end_of_stream: bool) -> ProcessingResponse {
    respond(processing_response::Response::ResponseBody(BodyResponse {
        response: Some(CommonResponse {
            body_mutation: Some(BodyMutation {
                mutation: Some(body_mutation::Mutation::StreamedResponse(
                    StreamedBodyResponse {
                        body,
                        end_of_stream,
                        ..Default::default()
                    },
                )),
            }),
            ..Default::default()
        }),
    }))
}

fn header_option(key: &str, value: &str) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue {
            key: key.to_owned(),
            raw_value: value.as_bytes().to_vec(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Envoy's header list as an HTTP header map, and its pseudo-headers (`:path`, `:status`…)
/// beside it. A header that is not valid HTTP is left out of the map (it is still forwarded by
/// Envoy, but nothing Crust judges depends on it).
fn headers_of(h: Option<&PbHeaders>) -> (HeaderMap, Vec<(String, String)>) {
    let mut map = HeaderMap::new();
    let mut pseudo = Vec::new();
    for hv in h.map(|h| h.headers.as_slice()).unwrap_or_default() {
        // Envoy fills `raw_value`; older versions used `value`.
        let raw: &[u8] = if hv.raw_value.is_empty() {
            hv.value.as_bytes()
        } else {
            &hv.raw_value
        };
        if hv.key.starts_with(':') {
            pseudo.push((hv.key.clone(), String::from_utf8_lossy(raw).into_owned()));
            continue;
        }
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(hv.key.as_bytes()),
            hyper::header::HeaderValue::from_bytes(raw),
        ) {
            map.append(k, v);
        }
    }
    (map, pseudo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_stream::StreamExt;

    async fn ends(finished: bool) -> Vec<Result<ProcessingResponse, Status>> {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let _ = tx.send(Ok(body_chunk(b"x".to_vec(), false))).await;
        drop(tx);
        let answers = Answers {
            rx: tokio_stream::wrappers::ReceiverStream::new(rx),
            finished: Arc::new(std::sync::atomic::AtomicBool::new(finished)),
            failed: false,
        };
        answers.collect().await
    }

    #[tokio::test]
    async fn an_unfinished_exchange_ends_in_an_error_never_cleanly() {
        let out = ends(false).await;
        assert_eq!(out.len(), 2);
        assert!(out.first().is_some_and(Result::is_ok));
        assert!(out.get(1).is_some_and(Result::is_err));
        // Near miss: a finished exchange closes cleanly.
        let out = ends(true).await;
        assert_eq!(out.len(), 1);
        assert!(out.iter().all(Result::is_ok));
    }

    #[test]
    fn headers_split_pseudo_from_ordinary_and_prefer_raw_values() {
        let h = PbHeaders {
            headers: vec![
                HeaderValue {
                    key: ":path".into(),
                    raw_value: b"/v1/messages".to_vec(),
                    ..Default::default()
                },
                HeaderValue {
                    key: "x-crust-home".into(),
                    value: "/home/a".into(),
                    ..Default::default()
                },
                HeaderValue {
                    key: "bad header".into(),
                    raw_value: b"v".to_vec(),
                    ..Default::default()
                },
            ],
        };
        let (map, pseudo) = headers_of(Some(&h));
        assert_eq!(
            pseudo,
            vec![(":path".to_owned(), "/v1/messages".to_owned())]
        );
        assert_eq!(
            map.get(HOME_HEADER).and_then(|v| v.to_str().ok()),
            Some("/home/a")
        );
        assert_eq!(map.len(), 1);
    }
}
