//! Tests of the remote-write delivery rules: status classification, connection errors and the
//! log rate limit.

use super::send::classify_error;
use super::*;

#[test]
fn classifies_statuses_by_remote_write_rules() {
    for status in [200, 204, 202] {
        assert_eq!(classify_status(status), Verdict::Accepted, "{status}");
    }
    for status in [429, 500, 502, 503, 504] {
        assert_eq!(classify_status(status), Verdict::Retry, "{status}");
    }
    for status in [400, 401, 403, 404, 408, 409, 413] {
        assert_eq!(
            classify_status(status),
            Verdict::Rejected(RejectClass::Client),
            "{status}"
        );
    }
    assert_eq!(classify_status(302), Verdict::Rejected(RejectClass::Other));
    assert_eq!(classify_status(100), Verdict::Rejected(RejectClass::Other));
}

#[tokio::test]
async fn connection_errors_are_retried_and_build_errors_are_not() {
    crate::exporters::http::install_crypto_provider();
    let client = reqwest::Client::new();
    // Port 9 (discard) on loopback refuses connections on test machines.
    let refused = client
        .post("http://127.0.0.1:9/")
        .send()
        .await
        .expect_err("refused");
    assert_eq!(classify_error(&refused), Verdict::Retry);
    let unbuildable = client.post("not a url").send().await.expect_err("bad url");
    assert_eq!(
        classify_error(&unbuildable),
        Verdict::Rejected(RejectClass::Other)
    );
}

#[tokio::test(start_paused = true)]
async fn log_limiter_lets_one_through_per_interval() {
    let limiter = LogLimiter::new();
    assert_eq!(limiter.allow(), Some(0));
    assert_eq!(limiter.allow(), None);
    tokio::time::advance(crate::exporters::log_limiter::LOG_INTERVAL).await;
    assert_eq!(limiter.allow(), Some(1));
}
