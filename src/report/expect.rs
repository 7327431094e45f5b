//! Expectations on a summary (`--expect 'recovery_s_mean<=150'`): parsed, then checked.

use super::Summary;

/// One comparison of a numeric summary field with a value.
#[derive(Clone, Debug, PartialEq)]
pub struct Expectation {
    pub field: String,
    pub op: Op,
    pub value: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Le,
    Ge,
    Lt,
    Gt,
    Eq,
}

impl Op {
    fn text(self) -> &'static str {
        match self {
            Op::Le => "<=",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::Eq => "==",
        }
    }
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Le => a <= b,
            Op::Ge => a >= b,
            Op::Lt => a < b,
            Op::Gt => a > b,
            Op::Eq => a == b,
        }
    }
}

impl std::str::FromStr for Expectation {
    type Err = String;

    /// Parses `FIELD OP VALUE` with OP one of `<=`, `>=`, `<`, `>`, `==`.
    fn from_str(text: &str) -> Result<Self, String> {
        let t = text.trim();
        for (sym, op) in [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ] {
            if let Some((field, value)) = t.split_once(sym) {
                let field = field.trim();
                let value: f64 = value.trim().parse().map_err(|_| {
                    format!(
                        "expected a number after {sym:?} in {text:?}, found {:?}",
                        value.trim()
                    )
                })?;
                if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    return Err(format!(
                        "expected a summary field name before {sym:?} in {text:?}"
                    ));
                }
                return Ok(Expectation {
                    field: field.to_string(),
                    op,
                    value,
                });
            }
        }
        Err(format!(
            "expected FIELD<=VALUE (or >=, <, >, ==), e.g. \"recovery_s_mean<=150\", found {text:?}"
        ))
    }
}

/// Numeric fields of a summary by name (the keys of `summary.json`).
fn numeric_fields(summary: &Summary) -> Vec<(String, Option<f64>)> {
    let value = serde_json::to_value(summary).expect("a summary serializes");
    let mut out = Vec::new();
    if let serde_json::Value::Object(map) = value {
        for (k, v) in map {
            match v {
                serde_json::Value::Number(n) => out.push((k, n.as_f64())),
                serde_json::Value::Null => out.push((k, None)),
                _ => {}
            }
        }
    }
    out
}

/// Checks every expectation. `Err` is a usage error (unknown field); `Ok` lists the failures.
pub fn check(summary: &Summary, expectations: &[Expectation]) -> Result<Vec<String>, String> {
    let fields = numeric_fields(summary);
    let mut failed = Vec::new();
    for e in expectations {
        let Some((_, v)) = fields.iter().find(|(k, _)| *k == e.field) else {
            let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
            return Err(format!(
                "--expect: unknown summary field {:?}; expected one of {}",
                e.field,
                names.join(", ")
            ));
        };
        match v {
            Some(x) if e.op.holds(*x, e.value) => {}
            Some(x) => failed.push(format!("{} {} {} (is {x})", e.field, e.op.text(), e.value)),
            None => failed.push(format!(
                "{} {} {} (no value)",
                e.field,
                e.op.text(),
                e.value
            )),
        }
    }
    Ok(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_operators_and_rejects_nonsense() {
        let e: Expectation = "recovery_s_mean<=150".parse().unwrap();
        assert_eq!(
            (e.field.as_str(), e.op, e.value),
            ("recovery_s_mean", Op::Le, 150.0)
        );
        let e: Expectation = " core_hours > 10.5 ".parse().unwrap();
        assert_eq!(e.op, Op::Gt);
        assert!("x=3".parse::<Expectation>().is_err());
        assert!("x<=abc".parse::<Expectation>().is_err());
        assert!("<=3".parse::<Expectation>().is_err());
    }
}
