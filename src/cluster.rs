//! Node classes: the machines TaskManagers run on (speed, cores, memory, power), from `models/nodes.toml`.

use serde::{Deserialize, Serialize};

use crate::flink::model::{non_negative, positive};
use crate::scenario::SpecError;

/// The node classes shipped with the crate (`models/nodes.toml`).
pub const BUILTIN_NODES_TOML: &str = include_str!("../models/nodes.toml");

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeClass {
    pub name: String,
    /// Per-core speed relative to the reference server core.
    pub speed: f64,
    pub cores: u32,
    pub memory_mb: u32,
    pub power_idle_w: f64,
    pub power_max_w: f64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodeClasses {
    pub node_class: Vec<NodeClass>,
}

impl NodeClasses {
    /// Parses and checks a node-class file; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<NodeClasses, SpecError> {
        let classes: NodeClasses = toml::from_str(text).map_err(|e| SpecError::parse(file, e))?;
        for (i, c) in classes.node_class.iter().enumerate() {
            positive(&format!("node_class[{i}].speed"), c.speed, 100.0, file)?;
            positive(
                &format!("node_class[{i}].cores"),
                c.cores as f64,
                4096.0,
                file,
            )?;
            positive(
                &format!("node_class[{i}].memory_mb"),
                c.memory_mb as f64,
                1e8,
                file,
            )?;
            non_negative(
                &format!("node_class[{i}].power_idle_w"),
                c.power_idle_w,
                1e5,
                file,
            )?;
            if !(c.power_max_w >= c.power_idle_w && c.power_max_w <= 1e5) {
                return Err(SpecError::Invalid {
                    file: file.into(),
                    key: format!("node_class[{i}].power_max_w"),
                    expected: "watts >= power_idle_w and <= 100000".into(),
                    found: c.power_max_w.to_string(),
                });
            }
        }
        Ok(classes)
    }

    pub fn builtin() -> NodeClasses {
        Self::parse(BUILTIN_NODES_TOML, "models/nodes.toml").expect("shipped node classes parse")
    }

    pub fn get(&self, name: &str) -> Option<&NodeClass> {
        self.node_class.iter().find(|c| c.name == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.node_class.iter().map(|c| c.name.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_classes_have_server_and_pi() {
        let c = NodeClasses::builtin();
        assert_eq!(c.get("server").unwrap().speed, 1.0);
        assert_eq!(c.get("rpi4b").unwrap().power_idle_w, 2.7);
    }

    #[test]
    fn bad_power_is_rejected_with_the_key() {
        let text = "[[node_class]]\nname='x'\nspeed=1.0\ncores=1\nmemory_mb=1\npower_idle_w=5.0\npower_max_w=1.0\n";
        let e = NodeClasses::parse(text, "n.toml").unwrap_err().to_string();
        assert!(
            e.contains("n.toml") && e.contains("node_class[0].power_max_w"),
            "{e}"
        );
    }
}
