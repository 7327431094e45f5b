//! Flink's REST API as the live backend uses it: requests with retries, and the answers parsed
//! into small typed structs. Garbage (missing fields, wrong types, `"NaN"`) is an error or
//! "no value", never a panic.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::http::{Body, Http};

/// Why a REST call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RestError {
    /// No answer after all retries (JobManager down or restarting, timeout).
    #[error("Flink REST {url} unreachable after {attempts} attempts: {why}")]
    Unreachable {
        url: String,
        attempts: u32,
        why: String,
    },
    /// An HTTP error status.
    #[error("Flink REST {method} {url} answered {status}: {body}")]
    Status {
        method: String,
        url: String,
        status: u16,
        body: String,
    },
    /// An answer that does not have the expected shape.
    #[error("Flink REST {url}: unexpected answer: {why}")]
    Garbage { url: String, why: String },
}

/// A client for one Flink REST endpoint.
pub struct FlinkRest {
    base: String,
    http: Box<dyn Http>,
    /// Extra attempts after a transport failure (idempotent requests only).
    pub retries: u32,
    /// Pause between attempts.
    pub retry_pause: Duration,
}

impl FlinkRest {
    pub fn new(base: &str, http: Box<dyn Http>, retries: u32) -> FlinkRest {
        FlinkRest {
            base: base.trim_end_matches('/').to_string(),
            http,
            retries,
            retry_pause: Duration::from_millis(200),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// One request; transport failures are retried when `idempotent`; the body must be JSON.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        idempotent: bool,
    ) -> Result<Value, RestError> {
        let url = format!("{}{}", self.base, path);
        let bytes = body.map(|b| b.to_string().into_bytes());
        let attempts = if idempotent { self.retries + 1 } else { 1 };
        let mut last = String::new();
        for i in 0..attempts {
            if i > 0 {
                std::thread::sleep(self.retry_pause);
            }
            let b = bytes.as_deref().map(|bytes| Body {
                content_type: "application/json",
                bytes,
            });
            match self.http.request(method, &url, b) {
                Ok(r) if (200..300).contains(&r.status) => {
                    if r.body.trim().is_empty() {
                        return Ok(Value::Null);
                    }
                    return serde_json::from_str(&r.body).map_err(|e| RestError::Garbage {
                        url,
                        why: format!("not JSON ({e})"),
                    });
                }
                Ok(r) => {
                    return Err(RestError::Status {
                        method: method.into(),
                        url,
                        status: r.status,
                        body: r.body.chars().take(400).collect(),
                    })
                }
                Err(e) => last = e,
            }
        }
        Err(RestError::Unreachable {
            url,
            attempts,
            why: last,
        })
    }

    pub fn get(&self, path: &str) -> Result<Value, RestError> {
        self.call("GET", path, None, true)
    }

    /// Uploads a jar (`POST /jars/upload`, multipart field `jarfile`); returns the jar id.
    pub fn upload_jar(&self, name: &str, jar: &[u8]) -> Result<String, RestError> {
        let boundary = "----demeter-sim-live-boundary-7d1f";
        let mut body = Vec::with_capacity(jar.len() + 256);
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"jarfile\"; filename=\"{name}\"\r\nContent-Type: application/x-java-archive\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(jar);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let url = format!("{}/jars/upload", self.base);
        let ct = format!("multipart/form-data; boundary={boundary}");
        let r = self
            .http
            .request(
                "POST",
                &url,
                Some(Body {
                    content_type: &ct,
                    bytes: &body,
                }),
            )
            .map_err(|why| RestError::Unreachable {
                url: url.clone(),
                attempts: 1,
                why,
            })?;
        if !(200..300).contains(&r.status) {
            return Err(RestError::Status {
                method: "POST".into(),
                url,
                status: r.status,
                body: r.body,
            });
        }
        let v: Value = serde_json::from_str(&r.body).map_err(|e| RestError::Garbage {
            url: url.clone(),
            why: format!("not JSON ({e})"),
        })?;
        let file = v["filename"].as_str().ok_or_else(|| RestError::Garbage {
            url: url.clone(),
            why: "no \"filename\"".into(),
        })?;
        Ok(file.rsplit('/').next().unwrap_or(file).to_string())
    }
}

fn garbage(url: &str, why: impl Into<String>) -> RestError {
    RestError::Garbage {
        url: url.to_string(),
        why: why.into(),
    }
}

/// A number from JSON: a number, or a string holding one; `"NaN"`, null or other -> None.
pub fn num(v: &Value) -> Option<f64> {
    let x = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    x.is_finite().then_some(x)
}

/// One job vertex of `GET /jobs/:id`.
#[derive(Clone, Debug, PartialEq)]
pub struct VertexInfo {
    pub id: String,
    pub name: String,
    pub parallelism: u32,
    pub max_parallelism: u32,
    pub running_tasks: u32,
    /// When the vertex's tasks were last (re)deployed (epoch ms), 0 if unknown.
    pub start_time_ms: u64,
    /// Upstream vertex indices and whether the edge is HASH.
    pub inputs: Vec<(usize, bool)>,
}

/// `GET /jobs/:id`, the parts the backend needs.
#[derive(Clone, Debug, PartialEq)]
pub struct JobDetails {
    pub id: String,
    pub name: String,
    pub state: String,
    /// `timestamps.RUNNING` (epoch ms), 0 if never.
    pub running_ms: u64,
    /// The JobManager's clock (`now`, epoch ms).
    pub now_ms: u64,
    pub vertices: Vec<VertexInfo>,
}

impl JobDetails {
    /// Every vertex has all its tasks RUNNING (job state RUNNING alone does not say so).
    pub fn all_running(&self) -> bool {
        self.state == "RUNNING"
            && !self.vertices.is_empty()
            && self
                .vertices
                .iter()
                .all(|v| v.running_tasks == v.parallelism)
    }
}

fn u32_of(v: &Value) -> Option<u32> {
    v.as_u64().and_then(|x| u32::try_from(x).ok())
}

/// Parses `GET /jobs/:id`; `url` names the request in errors.
pub fn parse_job(url: &str, v: &Value) -> Result<JobDetails, RestError> {
    let s = |k: &str| v[k].as_str().map(str::to_string);
    let state = s("state").ok_or_else(|| garbage(url, "no \"state\""))?;
    let verts = v["vertices"]
        .as_array()
        .ok_or_else(|| garbage(url, "no \"vertices\" list"))?;
    let mut vertices = Vec::with_capacity(verts.len());
    for (i, x) in verts.iter().enumerate() {
        let field = |k: &str| garbage(url, format!("vertex {i}: no \"{k}\""));
        vertices.push(VertexInfo {
            id: x["id"].as_str().ok_or_else(|| field("id"))?.to_string(),
            name: x["name"].as_str().unwrap_or("").to_string(),
            parallelism: u32_of(&x["parallelism"]).ok_or_else(|| field("parallelism"))?,
            max_parallelism: u32_of(&x["maxParallelism"]).unwrap_or(128),
            running_tasks: u32_of(&x["tasks"]["RUNNING"]).unwrap_or(0),
            start_time_ms: x["start-time"].as_u64().unwrap_or(0),
            inputs: vec![],
        });
    }
    // Edges come from the plan: node id -> inputs with ship strategy.
    if let Some(nodes) = v["plan"]["nodes"].as_array() {
        for node in nodes {
            let Some(id) = node["id"].as_str() else {
                continue;
            };
            let Some(target) = vertices.iter().position(|x| x.id == id) else {
                continue;
            };
            let mut inputs = vec![];
            for inp in node["inputs"].as_array().into_iter().flatten() {
                let from = inp["id"].as_str().unwrap_or("");
                if let Some(u) = vertices.iter().position(|x| x.id == from) {
                    inputs.push((u, inp["ship_strategy"].as_str() == Some("HASH")));
                }
            }
            vertices[target].inputs = inputs;
        }
    }
    Ok(JobDetails {
        id: s("jid").unwrap_or_default(),
        name: s("name").unwrap_or_default(),
        state,
        running_ms: v["timestamps"]["RUNNING"].as_u64().unwrap_or(0),
        now_ms: v["now"].as_u64().unwrap_or(0),
        vertices,
    })
}

/// One aggregated metric of `.../subtasks/metrics` or `/taskmanagers/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Agg {
    pub sum: Option<f64>,
    pub avg: Option<f64>,
    pub max: Option<f64>,
}

/// Parses an aggregated-metrics answer (`[{"id","sum","avg","max",...}]`) into id -> values.
pub fn parse_agg(url: &str, v: &Value) -> Result<BTreeMap<String, Agg>, RestError> {
    let list = v
        .as_array()
        .ok_or_else(|| garbage(url, "expected a list of metrics"))?;
    let mut out = BTreeMap::new();
    for m in list {
        let Some(id) = m["id"].as_str() else {
            continue;
        };
        out.insert(
            id.to_string(),
            Agg {
                sum: num(&m["sum"]),
                avg: num(&m["avg"]),
                max: num(&m["max"]),
            },
        );
    }
    Ok(out)
}

/// Parses a metric-values answer (`[{"id","value"}]`, values as strings) into id -> value.
pub fn parse_values(url: &str, v: &Value) -> Result<BTreeMap<String, f64>, RestError> {
    let list = v
        .as_array()
        .ok_or_else(|| garbage(url, "expected a list of metrics"))?;
    Ok(list
        .iter()
        .filter_map(|m| Some((m["id"].as_str()?.to_string(), num(&m["value"])?)))
        .collect())
}

/// The metric names of a listing answer (`[{"id"}]`).
pub fn parse_names(url: &str, v: &Value) -> Result<Vec<String>, RestError> {
    let list = v
        .as_array()
        .ok_or_else(|| garbage(url, "expected a list of metric names"))?;
    Ok(list
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_string))
        .collect())
}

/// `GET /overview`: TaskManagers, slots total and available.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClusterOverview {
    pub task_managers: u32,
    pub slots_total: u32,
    pub slots_available: u32,
}

pub fn parse_overview(url: &str, v: &Value) -> Result<ClusterOverview, RestError> {
    let f = |k: &str| u32_of(&v[k]).ok_or_else(|| garbage(url, format!("no \"{k}\"")));
    Ok(ClusterOverview {
        task_managers: f("taskmanagers")?,
        slots_total: f("slots-total")?,
        slots_available: f("slots-available")?,
    })
}

/// `GET /jobs/:id/checkpoints`: the last completed checkpoint (ack epoch ms, duration ms).
pub fn parse_last_checkpoint(v: &Value) -> Option<(u64, u64)> {
    let c = &v["latest"]["completed"];
    Some((
        c["latest_ack_timestamp"].as_u64()?,
        c["end_to_end_duration"].as_u64()?,
    ))
}

/// The body of `PUT /jobs/:id/resource-requirements` for per-vertex `targets`, keeping each
/// vertex's current lower bound when it is below the target (as the operator does).
pub fn resource_requirements(current: &Value, targets: &[(String, u32)]) -> Result<Value, String> {
    let mut out = serde_json::Map::new();
    for (id, p) in targets {
        let lower = current[id.as_str()]["parallelism"]["lowerBound"]
            .as_u64()
            .unwrap_or(1)
            .min(u64::from(*p))
            .max(1);
        out.insert(
            id.clone(),
            json!({"parallelism": {"lowerBound": lower, "upperBound": p}}),
        );
    }
    if out.is_empty() {
        return Err("no vertices to rescale".into());
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let text = match name {
            "job_1" => include_str!("testdata/job_1.json"),
            "overview" => include_str!("testdata/overview.json"),
            "source_metrics_1" => include_str!("testdata/source_metrics_1.json"),
            "checkpoints" => include_str!("testdata/checkpoints.json"),
            "resource_requirements" => include_str!("testdata/resource_requirements.json"),
            "job_metrics" => include_str!("testdata/job_metrics.json"),
            _ => panic!("no fixture {name}"),
        };
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn recorded_job_details_parse_with_the_hash_edge() {
        let j = parse_job("u", &fixture("job_1")).unwrap();
        assert_eq!(j.state, "RUNNING");
        assert!(j.all_running());
        assert_eq!(j.vertices.len(), 2);
        assert_eq!(j.vertices[0].name, "Source: gen -> parse");
        assert!(j.vertices[0].inputs.is_empty());
        assert_eq!(j.vertices[1].inputs, vec![(0, true)]);
        assert_eq!(j.vertices[1].max_parallelism, 128);
        assert!(j.running_ms > 0);
    }

    #[test]
    fn recorded_metrics_overview_and_checkpoints_parse() {
        let m = parse_agg("u", &fixture("source_metrics_1")).unwrap();
        assert_eq!(m["Source__gen.pendingRecords"].sum, Some(24972.0));
        assert_eq!(m["accumulateBusyTimeMs"].avg, Some(5294.5));
        let o = parse_overview("u", &fixture("overview")).unwrap();
        assert_eq!((o.task_managers, o.slots_total), (2, 4));
        assert!(parse_last_checkpoint(&fixture("checkpoints")).is_some());
        let r = parse_values("u", &fixture("job_metrics")).unwrap();
        assert_eq!(r["numRestarts"], 0.0);
    }

    #[test]
    fn garbage_is_an_error_or_no_value_never_a_panic() {
        for bad in [
            json!(null),
            json!([1, 2]),
            json!({"state": 3}),
            json!({"state": "RUNNING", "vertices": [{"id": 1}]}),
            json!({"state": "RUNNING", "vertices": [{"id": "a", "parallelism": -1}]}),
        ] {
            assert!(parse_job("u", &bad).is_err(), "{bad}");
        }
        assert!(parse_agg("u", &json!({})).is_err());
        let m = parse_agg(
            "u",
            &json!([{"id": "x", "sum": "NaN", "avg": "3"}, {"nope": 1}]),
        )
        .unwrap();
        assert_eq!(
            m["x"],
            Agg {
                sum: None,
                avg: Some(3.0),
                max: None
            }
        );
        assert!(parse_overview("u", &json!({"taskmanagers": "two"})).is_err());
        assert_eq!(
            parse_last_checkpoint(&json!({"latest": {"completed": null}})),
            None
        );
        assert_eq!(num(&json!("inf")), None);
    }

    #[test]
    fn resource_requirements_keep_lower_bounds_and_set_upper() {
        let cur = fixture("resource_requirements");
        let body = resource_requirements(
            &cur,
            &[
                ("6bf01baa9d2ca23a3ef7ce311722523d".into(), 3),
                ("674df9b0384c0348e0b9d1034a44c46c".into(), 4),
            ],
        )
        .unwrap();
        assert_eq!(
            body["674df9b0384c0348e0b9d1034a44c46c"],
            json!({"parallelism": {"lowerBound": 1, "upperBound": 4}})
        );
        assert!(resource_requirements(&cur, &[]).is_err());
    }

    #[test]
    fn retries_transport_failures_but_not_http_errors() {
        let fake = super::super::http::FakeHttp::new();
        fake.fail("GET", "/overview", "refused").on(
            "GET",
            "/overview",
            200,
            r#"{"taskmanagers":1,"slots-total":2,"slots-available":2}"#,
        );
        let mut rest = FlinkRest::new("http://127.0.0.1:1", Box::new(fake.clone()), 2);
        rest.retry_pause = Duration::ZERO;
        assert!(rest.get("/overview").is_ok());
        fake.on("GET", "/jobs/x", 404, "{\"errors\":[\"Job x not found\"]}");
        let e = rest.get("/jobs/x").unwrap_err();
        assert!(matches!(e, RestError::Status { status: 404, .. }), "{e}");
        let e = rest.get("/nothing").unwrap_err().to_string();
        assert!(e.contains("unreachable after 3 attempts"), "{e}");
    }
}
