//! Java exception chains and stack traces, built once per ERROR template of a service.
//!
//! A failing code path throws the same exception with the same frames every time, so each
//! ERROR template gets one prebuilt trace: the exception line, `\tat` frames (application code
//! under the service's package, then framework code), `Caused by:` links and `\t... N more`.

use super::templates::Domain;
use crate::random::Rng;

/// A prebuilt stack trace: its physical lines, without the log line that announces it.
#[derive(Clone, Debug)]
pub struct StackTrace {
    /// The lines, starting with `exception.Class: message`.
    pub lines: Vec<String>,
    /// The top exception's class.
    pub exception: &'static str,
    /// The top exception's message.
    pub message: &'static str,
}

/// (exception class, message) chains, outermost first, per kind of failure.
fn chains_for(domain: Domain) -> &'static [&'static [(&'static str, &'static str)]] {
    match domain {
        Domain::Db => &[
            &[
                (
                    "org.springframework.dao.DataAccessResourceFailureException",
                    "Unable to acquire JDBC Connection",
                ),
                (
                    "java.sql.SQLTransientConnectionException",
                    "HikariPool-1 - Connection is not available, request timed out after 30000ms.",
                ),
            ],
            &[
                (
                    "org.springframework.dao.CannotAcquireLockException",
                    "could not execute statement; SQL [n/a]",
                ),
                (
                    "org.postgresql.util.PSQLException",
                    "ERROR: deadlock detected",
                ),
            ],
        ],
        Domain::Kafka => &[&[
            (
                "org.springframework.kafka.listener.ListenerExecutionFailedException",
                "Listener method threw exception",
            ),
            (
                "com.fasterxml.jackson.databind.exc.MismatchedInputException",
                "Cannot deserialize value of type `java.math.BigDecimal` from String \"N/A\"",
            ),
        ]],
        Domain::Jvm => &[&[("java.lang.OutOfMemoryError", "Java heap space")]],
        Domain::Tls | Domain::Auth => &[&[
            (
                "javax.net.ssl.SSLHandshakeException",
                "PKIX path building failed",
            ),
            (
                "sun.security.provider.certpath.SunCertPathBuilderException",
                "unable to find valid certification path to requested target",
            ),
        ]],
        Domain::Cache => &[&[
            (
                "org.springframework.data.redis.RedisConnectionFailureException",
                "Unable to connect to Redis",
            ),
            (
                "io.lettuce.core.RedisConnectionException",
                "Unable to connect to redis-master.cache.svc.cluster.local:6379",
            ),
            ("java.net.ConnectException", "Connection refused"),
        ]],
        _ => &[
            &[
                (
                    "org.springframework.web.client.ResourceAccessException",
                    "I/O error on POST request: Read timed out",
                ),
                ("java.net.SocketTimeoutException", "Read timed out"),
            ],
            &[(
                "java.lang.IllegalStateException",
                "Order is not in a state that allows this transition",
            )],
            &[(
                "java.lang.NullPointerException",
                "Cannot invoke \"java.math.BigDecimal.multiply(java.math.BigDecimal)\" because \"price\" is null",
            )],
        ],
    }
}

const FRAMEWORK_FRAMES: &[&str] = &[
    "org.springframework.web.servlet.FrameworkServlet.processRequest(FrameworkServlet.java:1014)",
    "org.springframework.web.servlet.DispatcherServlet.doDispatch(DispatcherServlet.java:1089)",
    "org.springframework.web.servlet.DispatcherServlet.doService(DispatcherServlet.java:979)",
    "org.springframework.web.method.support.InvocableHandlerMethod.invokeForRequest(InvocableHandlerMethod.java:150)",
    "org.springframework.web.servlet.mvc.method.annotation.ServletInvocableHandlerMethod.invokeAndHandle(ServletInvocableHandlerMethod.java:118)",
    "org.springframework.aop.framework.ReflectiveMethodInvocation.proceed(ReflectiveMethodInvocation.java:184)",
    "org.springframework.transaction.interceptor.TransactionInterceptor.invoke(TransactionInterceptor.java:119)",
    "jakarta.servlet.http.HttpServlet.service(HttpServlet.java:658)",
    "org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:140)",
    "org.apache.catalina.core.StandardWrapperValve.invoke(StandardWrapperValve.java:167)",
    "org.apache.catalina.core.StandardContextValve.invoke(StandardContextValve.java:90)",
    "org.apache.catalina.connector.CoyoteAdapter.service(CoyoteAdapter.java:340)",
    "org.apache.coyote.http11.Http11Processor.service(Http11Processor.java:391)",
    "org.apache.tomcat.util.net.NioEndpoint$SocketProcessor.doRun(NioEndpoint.java:1769)",
    "java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1144)",
    "java.base/java.util.concurrent.ThreadPoolExecutor$Worker.run(ThreadPoolExecutor.java:642)",
    "java.base/java.lang.Thread.run(Thread.java:1583)",
];

const LIBRARY_FRAMES: &[&str] = &[
    "com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)",
    "java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:288)",
    "java.base/java.net.Socket$SocketInputStream.read(Socket.java:1099)",
    "org.postgresql.core.v3.QueryExecutorImpl.execute(QueryExecutorImpl.java:372)",
    "io.lettuce.core.RedisClient.connect(RedisClient.java:216)",
    "com.fasterxml.jackson.databind.deser.std.NumberDeserializers$BigDecimalDeserializer.deserialize(NumberDeserializers.java:1045)",
    "java.base/java.util.Objects.requireNonNull(Objects.java:259)",
];

const METHODS: &[&str] = &[
    "process",
    "handle",
    "execute",
    "apply",
    "placeOrder",
    "reserve",
    "load",
    "findById",
    "authorize",
    "send",
    "doFilterInternal",
    "lambda$submit$0",
];

/// Builds the trace of an ERROR template of `domain` in the service package `package`.
pub fn build(domain: Domain, package: &str, class: &str, rng: &mut Rng) -> StackTrace {
    let chains = chains_for(domain);
    let chain = chains[rng.index(chains.len())];
    let (exception, message) = chain[0];
    let mut lines = vec![format!("{exception}: {message}")];
    let total_frames = 12 + rng.index(24);
    push_app_frames(&mut lines, package, class, 3 + rng.index(4), rng);
    lines.extend(
        FRAMEWORK_FRAMES
            .iter()
            .take(total_frames)
            .map(|frame| format!("\tat {frame}")),
    );
    for (depth, (cause, cause_message)) in chain.iter().enumerate().skip(1) {
        lines.push(format!("Caused by: {cause}: {cause_message}"));
        let library =
            LIBRARY_FRAMES[(rng.index(LIBRARY_FRAMES.len()) + depth) % LIBRARY_FRAMES.len()];
        lines.push(format!("\tat {library}"));
        push_app_frames(&mut lines, package, class, 1 + rng.index(3), rng);
        lines.push(format!(
            "\t... {} more",
            total_frames.min(FRAMEWORK_FRAMES.len()) + depth
        ));
    }
    StackTrace {
        lines,
        exception,
        message,
    }
}

fn push_app_frames(
    lines: &mut Vec<String>,
    package: &str,
    class: &str,
    count: usize,
    rng: &mut Rng,
) {
    for _ in 0..count {
        let method = METHODS[rng.index(METHODS.len())];
        let line = 40 + rng.index(400);
        lines.push(format!(
            "\tat com.example.{package}.{class}.{method}({}.java:{line})",
            simple(class)
        ));
    }
}

fn simple(class: &str) -> &str {
    class.rsplit('.').next().unwrap_or(class)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_have_java_shape() {
        let mut rng = Rng::from_seed(5);
        for domain in [Domain::Db, Domain::Http, Domain::Cache, Domain::Jvm] {
            let trace = build(domain, "checkout", "order.OrderService", &mut rng);
            assert!(trace.lines[0].starts_with(trace.exception));
            assert!(trace.lines.len() >= 4, "{:?}", trace.lines);
            for line in &trace.lines[1..] {
                assert!(
                    line.starts_with("\tat ")
                        || line.starts_with("Caused by: ")
                        || line.starts_with("\t... "),
                    "{line}"
                );
            }
        }
    }
}
