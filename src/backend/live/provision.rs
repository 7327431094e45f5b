//! Provisioners: how the live backend changes the number of TaskManagers. Local processes of a
//! standalone cluster (`tools/live/tm.sh`), or the Flink operator's `FlinkDeployment` on
//! Kubernetes (`spec.taskManager.replicas`, standalone mode) through the Kubernetes API.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

use super::http::{Body, Http};

/// Changes the TaskManager count of the cluster the job runs on.
pub trait Provisioner: Send {
    /// A short description for logs (`local: <dir>`, `kubernetes: ns/name`).
    fn describe(&self) -> String;
    /// The TaskManagers the provisioner runs (not necessarily registered yet).
    fn task_managers(&mut self) -> Result<u32, String>;
    /// Starts or stops TaskManagers until there are `n`.
    fn set_task_managers(&mut self, n: u32) -> Result<(), String>;
}

/// TaskManager processes of a standalone cluster made by `tools/live/start_cluster.sh`.
pub struct LocalProvisioner {
    pub tm_script: PathBuf,
    pub flink_home: PathBuf,
    pub cluster_dir: PathBuf,
}

impl LocalProvisioner {
    fn tm(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(&self.tm_script)
            .arg(&self.flink_home)
            .arg(&self.cluster_dir)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.tm_script.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} {} failed: {}",
                self.tm_script.display(),
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Provisioner for LocalProvisioner {
    fn describe(&self) -> String {
        format!("local: {}", self.cluster_dir.display())
    }
    fn task_managers(&mut self) -> Result<u32, String> {
        Ok(self
            .tm(&["list"])?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count() as u32)
    }
    fn set_task_managers(&mut self, n: u32) -> Result<(), String> {
        let have = self.task_managers()?;
        for _ in have..n {
            self.tm(&["start"])?;
        }
        for _ in n..have {
            self.tm(&["stop"])?;
        }
        Ok(())
    }
}

/// A `FlinkDeployment` of the Flink Kubernetes operator (apiVersion flink.apache.org/v1beta1)
/// in standalone mode, where `spec.taskManager.replicas` is the TaskManager count. Talks plain
/// HTTP to the Kubernetes API, e.g. through `kubectl proxy --port 8001` on 127.0.0.1.
pub struct KubernetesProvisioner {
    pub api: String,
    pub namespace: String,
    pub name: String,
    pub http: Box<dyn Http>,
}

impl KubernetesProvisioner {
    fn url(&self) -> String {
        format!(
            "{}/apis/flink.apache.org/v1beta1/namespaces/{}/flinkdeployments/{}",
            self.api.trim_end_matches('/'),
            self.namespace,
            self.name
        )
    }
    fn call(&self, method: &str, body: Option<&Value>) -> Result<Value, String> {
        let url = self.url();
        let bytes = body.map(|b| b.to_string().into_bytes());
        let r = self
            .http
            .request(
                method,
                &url,
                bytes.as_deref().map(|bytes| Body {
                    content_type: "application/merge-patch+json",
                    bytes,
                }),
            )
            .map_err(|e| format!("Kubernetes API {url} unreachable: {e}"))?;
        let v: Value = serde_json::from_str(&r.body).map_err(|e| {
            format!(
                "Kubernetes API {method} {url} answered {} with non-JSON: {e}",
                r.status
            )
        })?;
        if !(200..300).contains(&r.status) {
            let msg = v["message"].as_str().unwrap_or("no message");
            return Err(format!(
                "Kubernetes API {method} {url} answered {} ({}): {msg}",
                r.status,
                v["reason"].as_str().unwrap_or("?")
            ));
        }
        Ok(v)
    }
}

impl Provisioner for KubernetesProvisioner {
    fn describe(&self) -> String {
        format!(
            "kubernetes: FlinkDeployment {}/{}",
            self.namespace, self.name
        )
    }
    fn task_managers(&mut self) -> Result<u32, String> {
        let v = self.call("GET", None)?;
        if v["spec"]["mode"].as_str() == Some("native") {
            return Err(format!(
                "FlinkDeployment {}/{} runs in native mode, where the operator derives the TaskManager count from the parallelism; use spec.mode: standalone",
                self.namespace, self.name
            ));
        }
        v["spec"]["taskManager"]["replicas"]
            .as_u64()
            .and_then(|r| u32::try_from(r).ok())
            .ok_or_else(|| {
                format!(
                    "FlinkDeployment {}/{} has no spec.taskManager.replicas",
                    self.namespace, self.name
                )
            })
    }
    fn set_task_managers(&mut self, n: u32) -> Result<(), String> {
        let v = self.call(
            "PATCH",
            Some(&json!({"spec": {"taskManager": {"replicas": n}}})),
        )?;
        match v["spec"]["taskManager"]["replicas"].as_u64() {
            Some(r) if r == u64::from(n) => Ok(()),
            other => Err(format!(
                "Kubernetes API accepted the patch but spec.taskManager.replicas is {other:?}, not {n}"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::http::FakeHttp;
    use super::*;

    const PATH: &str = "/apis/flink.apache.org/v1beta1/namespaces/flink/flinkdeployments/rate-job";

    fn k8s(fake: &FakeHttp) -> KubernetesProvisioner {
        KubernetesProvisioner {
            api: "http://127.0.0.1:8001".into(),
            namespace: "flink".into(),
            name: "rate-job".into(),
            http: Box::new(fake.clone()),
        }
    }

    #[test]
    fn kubernetes_reads_and_patches_the_replicas() {
        let fake = FakeHttp::new();
        fake.on(
            "GET",
            PATH,
            200,
            include_str!("testdata/k8s_flinkdeployment.json"),
        );
        fake.on(
            "PATCH",
            PATH,
            200,
            include_str!("testdata/k8s_flinkdeployment_patched.json"),
        );
        let mut p = k8s(&fake);
        assert_eq!(p.task_managers().unwrap(), 2);
        p.set_task_managers(3).unwrap();
        let reqs = fake.requests();
        let (key, body) = reqs.last().unwrap();
        assert_eq!(key, &format!("PATCH {PATH}"));
        assert_eq!(
            body.as_deref(),
            Some(r#"{"spec":{"taskManager":{"replicas":3}}}"#)
        );
    }

    #[test]
    fn kubernetes_errors_name_the_status_reason_and_what_to_do() {
        let fake = FakeHttp::new();
        fake.on(
            "GET",
            PATH,
            404,
            include_str!("testdata/k8s_not_found.json"),
        );
        let e = k8s(&fake).task_managers().unwrap_err();
        assert!(
            e.contains("404 (NotFound)") && e.contains("\"rate-job\" not found"),
            "{e}"
        );
        let fake = FakeHttp::new();
        fake.on(
            "PATCH",
            PATH,
            403,
            include_str!("testdata/k8s_forbidden.json"),
        );
        let e = k8s(&fake).set_task_managers(4).unwrap_err();
        assert!(e.contains("403 (Forbidden)"), "{e}");
        let fake = FakeHttp::new();
        let native = include_str!("testdata/k8s_flinkdeployment.json")
            .replace("\"standalone\"", "\"native\"");
        fake.on("GET", PATH, 200, &native);
        let e = k8s(&fake).task_managers().unwrap_err();
        assert!(e.contains("native mode"), "{e}");
        let e = k8s(&FakeHttp::new()).task_managers().unwrap_err();
        assert!(e.contains("unreachable"), "{e}");
    }
}
