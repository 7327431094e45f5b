//! The HTTP transport of the live backend: a trait (so tests replay recorded answers) and the
//! real client (ureq, plain HTTP, per-request timeout).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One HTTP answer: status code and body text.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

/// A request body with its content type.
pub struct Body<'a> {
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

/// Sends one request. `Err` means no answer at all (refused, timed out, reset).
pub trait Http: Send {
    fn request(&self, method: &str, url: &str, body: Option<Body<'_>>) -> Result<Reply, String>;
}

/// The real client: `ureq` without TLS (the Flink REST API on loopback, or the Kubernetes API
/// through `kubectl proxy`).
pub struct UreqHttp {
    agent: ureq::Agent,
}

impl UreqHttp {
    pub fn new(timeout: Duration) -> UreqHttp {
        UreqHttp {
            agent: ureq::AgentBuilder::new()
                .timeout_connect(timeout)
                .timeout(timeout)
                .build(),
        }
    }
}

impl Http for UreqHttp {
    fn request(&self, method: &str, url: &str, body: Option<Body<'_>>) -> Result<Reply, String> {
        let req = self.agent.request(method, url);
        let res = match body {
            Some(b) => req.set("Content-Type", b.content_type).send_bytes(b.bytes),
            None => req.call(),
        };
        let resp = match res {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(ureq::Error::Transport(t)) => return Err(t.to_string()),
        };
        let status = resp.status();
        let body = resp
            .into_string()
            .map_err(|e| format!("reading the answer of {method} {url}: {e}"))?;
        Ok(Reply { status, body })
    }
}

/// Replays recorded answers in tests: per `METHOD path` (query included) a queue of answers; the
/// last answer of a queue repeats. Unknown requests get `Err` (as an unreachable server).
#[derive(Clone, Default)]
pub struct FakeHttp {
    inner: Arc<Mutex<FakeState>>,
}

#[derive(Default)]
struct FakeState {
    answers: HashMap<String, VecDeque<Result<Reply, String>>>,
    log: Vec<(String, Option<String>)>,
}

impl FakeHttp {
    pub fn new() -> FakeHttp {
        FakeHttp::default()
    }
    /// Queues `reply` for `method path` (path without the base URL).
    pub fn on(&self, method: &str, path: &str, status: u16, body: &str) -> &Self {
        self.push(
            method,
            path,
            Ok(Reply {
                status,
                body: body.to_string(),
            }),
        )
    }
    /// Queues a transport failure for `method path`.
    pub fn fail(&self, method: &str, path: &str, why: &str) -> &Self {
        self.push(method, path, Err(why.to_string()))
    }
    fn push(&self, method: &str, path: &str, r: Result<Reply, String>) -> &Self {
        let mut s = self.inner.lock().expect("fake http lock");
        s.answers
            .entry(format!("{method} {path}"))
            .or_default()
            .push_back(r);
        self
    }
    /// Drops every queued answer for `method path`.
    pub fn clear(&self, method: &str, path: &str) {
        let mut s = self.inner.lock().expect("fake http lock");
        s.answers.remove(&format!("{method} {path}"));
    }
    /// The requests seen so far: `METHOD path` and the body.
    pub fn requests(&self) -> Vec<(String, Option<String>)> {
        self.inner.lock().expect("fake http lock").log.clone()
    }
}

impl Http for FakeHttp {
    fn request(&self, method: &str, url: &str, body: Option<Body<'_>>) -> Result<Reply, String> {
        let path = match url.find("://") {
            Some(i) => url[i + 3..]
                .find('/')
                .map_or("/", |j| &url[i + 3 + j..])
                .to_string(),
            None => url.to_string(),
        };
        let key = format!("{method} {path}");
        let mut s = self.inner.lock().expect("fake http lock");
        s.log.push((
            key.clone(),
            body.map(|b| String::from_utf8_lossy(b.bytes).into_owned()),
        ));
        match s.answers.get_mut(&key) {
            Some(q) if q.len() > 1 => q.pop_front().expect("non-empty"),
            Some(q) if q.len() == 1 => q[0].clone(),
            _ => Err(format!("connection refused (no recorded answer for {key})")),
        }
    }
}
