//! The committed JSON Schema matches the model it is generated from.

use crate::{Geno, root};

#[test]
fn committed_schema_is_current() {
    let out = Geno::new().args(["schema"]).run();
    assert_eq!(out.code, 0);
    let path = root().join("schema/stack.schema.json");
    if std::env::var_os("GENO_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &out.stdout).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == out.stdout,
        "schema/stack.schema.json is stale: run `GENO_BLESS=1 cargo test --test integration schema`"
    );
}

#[test]
fn schema_describes_the_services_and_their_fields() {
    let out = Geno::new().args(["schema"]).run();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["required"], serde_json::json!(["name", "services"]));
    assert!(v["properties"]["image"].is_object() && v["properties"]["builds"].is_object());
    let service = &v["$defs"]["Service"]["properties"];
    for field in ["command", "healthcheck", "depends_on", "ecs", "replicas"] {
        assert!(service.get(field).is_some(), "Service.{field} missing");
    }
}
