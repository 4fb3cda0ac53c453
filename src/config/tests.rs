use super::*;

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::from_str_with_env(text, "test.toml", |name| match name {
        "LOKI_URL" => Some("http://127.0.0.1:3100".to_string()),
        _ => None,
    })
}

const MINIMAL: &str = r#"
[tenants.acme]

[sources.noise]
type = "logs"
dialect = "logfmt"

[exporters.out]
type = "stdout"

[pipelines.logs]
sources = ["noise"]
exporters = ["out"]
"#;

#[test]
fn embedded_default_is_valid() {
    let config = Config::default_config().expect("default config");
    assert!(!config.pipelines.is_empty());
    assert_eq!(config.admin.listen.ip().to_string(), "127.0.0.1");
}

#[test]
fn minimal_file_gets_defaults() {
    let config = load(MINIMAL).expect("valid");
    assert_eq!(config.seed, 0);
    assert_eq!(config.tenants["acme"].scale, 1.0);
    assert_eq!(config.runtime.shutdown_timeout, Duration::from_secs(10));
    assert_eq!(config.hash.len(), 16);
}

#[test]
fn every_problem_is_reported_in_one_pass_with_positions() {
    let text = r#"seed = 1
colour = "blue"

[tenants.acme]
sclae = 2.0

[sources.noise]
type = "logs"
dialect = "klingon"

[sources.other]
type = "teleport"

[exporters.out]
type = "stdout"
format = "lines"
extra = true

[pipelines.logs]
sources = ["noise", "ghost"]
exporters = ["out", "nowhere"]
"#;
    let error = load(text).expect_err("invalid");
    let rendered = error.to_string();
    let expect = [
        ("2:1: colour: unknown key", 2),
        ("tenants.acme: unknown field `sclae`", 5),
        ("sources.noise: unknown variant `klingon`", 9),
        ("sources.other.type: unknown type \"teleport\"", 12),
        ("exporters.out: unknown field `extra`", 17),
        ("no source with id \"ghost\"", 20),
        ("no exporter with id \"nowhere\"", 21),
    ];
    for (needle, line) in expect {
        let found = error
            .diagnostics
            .iter()
            .find(|d| d.to_string().contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} missing from:\n{rendered}"));
        assert_eq!(found.line, Some(line), "{needle}: {found}");
    }
    assert!(rendered.starts_with("test.toml has"), "{rendered}");
}

#[test]
fn component_checks_point_at_the_key() {
    let text = MINIMAL.replace(
        "dialect = \"logfmt\"",
        "dialect = \"logfmt\"\nlines_per_second = -4",
    );
    let error = load(&text).expect_err("invalid");
    let diagnostic = &error.diagnostics[0];
    assert_eq!(
        diagnostic.path.as_deref(),
        Some("sources.noise.lines_per_second")
    );
    assert_eq!(diagnostic.line, Some(7));
}

#[test]
fn syntax_errors_have_positions() {
    let error = load("[tenants.acme\nscale = 1").expect_err("invalid");
    assert_eq!(error.diagnostics[0].line, Some(1));
}

#[test]
fn missing_type_and_wrong_signal_are_reported() {
    let text = MINIMAL.replace("type = \"stdout\"", "")
        + "\n[pipelines.metrics]\nsources = [\"noise\"]\nexporters = []\n";
    let error = load(&text).expect_err("invalid");
    let all = error.to_string();
    assert!(all.contains("missing key \"type\""), "{all}");
    assert!(all.contains("does not emit metrics"), "{all}");
    assert!(all.contains("needs at least one exporter"), "{all}");
}

#[test]
fn bad_pipeline_ids_and_tenant_ids_are_reported() {
    let text = MINIMAL
        .replace("[pipelines.logs]", "[pipelines.stuff]")
        .replace("[tenants.acme]", "[tenants.\"a|b\"]");
    let all = load(&text).expect_err("invalid").to_string();
    assert!(
        all.contains("a pipeline id starts with its signal"),
        "{all}"
    );
    assert!(all.contains("tenant id \"a|b\" holds '|'"), "{all}");
}

#[test]
fn unknown_tenants_in_sources_and_processors_are_reported() {
    let text = MINIMAL.replace(
        "dialect = \"logfmt\"",
        "dialect = \"logfmt\"\ntenants = [\"ghost\"]",
    ) + "\n[processors.t]\ntype = \"tag_tenant\"\ntenants = [\"phantom\"]\n";
    let all = load(&text).expect_err("invalid").to_string();
    assert!(all.contains("unknown tenant \"ghost\""), "{all}");
    assert!(all.contains("unknown tenant \"phantom\""), "{all}");
}

#[test]
fn environment_variables_are_expanded_or_reported() {
    let text = MINIMAL.to_string() + "\n[admin]\ntoken = \"${ADMIN_TOKEN:-dev}\"\n";
    assert_eq!(
        load(&text).expect("valid").admin.token.as_deref(),
        Some("dev")
    );
    let text = MINIMAL.to_string() + "\n[admin]\ntoken = \"${ADMIN_TOKEN}\"\n";
    let error = load(&text).expect_err("unset");
    assert!(error.to_string().contains("ADMIN_TOKEN is not set"));
    assert_eq!(error.diagnostics[0].line, Some(16));
}

#[test]
fn tenant_ids_follow_the_shared_rules() {
    assert!(validate_tenant_id("acme-prod_1").is_ok());
    assert!(validate_tenant_id("(a)*'!").is_ok());
    assert!(validate_tenant_id("").is_err());
    assert!(validate_tenant_id("..").is_err());
    assert!(validate_tenant_id("a:b").is_err());
    assert!(validate_tenant_id(&"x".repeat(151)).is_err());
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = load(&text);
        }

        #[test]
        fn arbitrary_values_in_a_valid_file_never_panic(value in "[ -~]{0,40}") {
            let text = MINIMAL.replace("\"logfmt\"", &format!("{value:?}"));
            let _ = load(&text);
        }
    }
}
