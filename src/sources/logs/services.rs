//! Services: the default set per dialect and what each service name implies (the domains its
//! templates come from, its syslog facility, its pods and hosts).

use super::Dialect;
use super::templates::Domain::{self, *};

/// Default services of the access-log dialects: web front ends.
pub const ACCESS_SERVICES: &[&str] = &[
    "storefront-web",
    "api-gateway",
    "static-assets",
    "admin-portal",
];

/// Default services of the application dialects, by expected volume.
pub const APP_SERVICES: &[&str] = &[
    "checkout",
    "cart",
    "catalog",
    "payment",
    "orders",
    "inventory",
    "search",
    "auth",
    "shipping",
    "notification",
];

/// Default programs of the syslog dialects, by expected volume.
pub const SYSTEM_SERVICES: &[&str] = &[
    "sshd",
    "systemd",
    "CRON",
    "kubelet",
    "kernel",
    "postfix/smtpd",
    "sudo",
    "chronyd",
];

/// The default services of `dialect`.
pub fn default_services(dialect: Dialect) -> &'static [&'static str] {
    match dialect {
        Dialect::ApacheCommon | Dialect::ApacheCombined | Dialect::Nginx => ACCESS_SERVICES,
        Dialect::SyslogRfc3164 | Dialect::SyslogRfc5424 => SYSTEM_SERVICES,
        Dialect::Json | Dialect::Logfmt | Dialect::Cri | Dialect::JavaStacktrace => APP_SERVICES,
    }
}

const GENERIC: &[Domain] = &[
    Http, Db, Cache, Retry, Probe, Lifecycle, Jvm, Kafka, Scheduler, Tls,
];

/// The corpus domains a service named `name` writes about.
pub fn domains_for(name: &str) -> &'static [Domain] {
    let name = name.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|word| name.contains(word));
    if let Some(system) = system_domains(&name) {
        return system;
    }
    if has(&["checkout"]) {
        &[
            Http, Order, Payment, Cart, Db, Cache, Retry, Probe, Lifecycle, Jvm, Kafka, Tls,
        ]
    } else if has(&["cart", "basket"]) {
        &[Http, Cart, Cache, Db, Retry, Probe, Lifecycle, Jvm, Catalog]
    } else if has(&["pay", "billing"]) {
        &[Http, Payment, Db, Retry, Tls, Probe, Lifecycle, Jvm, Kafka]
    } else if has(&["catalog", "product"]) {
        &[
            Http, Catalog, Db, Cache, Search, Probe, Lifecycle, Jvm, Scheduler,
        ]
    } else if has(&["inventory", "stock", "warehouse"]) {
        &[
            Http, Inventory, Db, Kafka, Scheduler, Probe, Lifecycle, Jvm, Retry,
        ]
    } else if has(&["ship", "deliver"]) {
        &[Http, Shipping, Db, Retry, Tls, Probe, Lifecycle, Jvm, Kafka]
    } else if has(&["search"]) {
        &[Http, Search, Cache, Probe, Lifecycle, Jvm, Scheduler, Retry]
    } else if has(&["notif", "mail", "sms"]) {
        &[
            Notify, Kafka, Retry, Probe, Lifecycle, Jvm, Scheduler, Tls, Http,
        ]
    } else if has(&["auth", "user", "identity", "account", "login"]) {
        &[Http, Auth, Db, Cache, Tls, Probe, Lifecycle, Jvm, Retry]
    } else if has(&["order"]) {
        &[
            Http, Order, Db, Kafka, Retry, Probe, Lifecycle, Jvm, Scheduler, Inventory,
        ]
    } else {
        GENERIC
    }
}

fn system_domains(name: &str) -> Option<&'static [Domain]> {
    let domains: &'static [Domain] = match name {
        "sshd" => &[Sshd],
        "cron" | "crond" => &[Cron],
        "systemd" | "init" => &[Systemd],
        "kernel" => &[Kernel],
        "sudo" => &[Sudo],
        "kubelet" => &[Kubelet],
        "chronyd" | "ntpd" => &[Chrony],
        _ if name.starts_with("postfix") => &[Postfix],
        _ => return None,
    };
    Some(domains)
}

/// The syslog facility of a program (RFC 5424 table 1), `local0` for applications.
pub fn facility_for(name: &str) -> u8 {
    match name.to_ascii_lowercase().as_str() {
        "kernel" => 0,
        "sshd" => 4,
        "systemd" | "kubelet" | "chronyd" | "init" => 3,
        "cron" | "crond" => 9,
        "sudo" => 10,
        lower if lower.starts_with("postfix") => 2,
        _ => 16,
    }
}

/// How a program's syslog tag carries its process id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PidStyle {
    /// No pid (`kernel:`).
    None,
    /// One long-lived process per host.
    Fixed,
    /// A new process per line (`CRON`, `sshd` sessions).
    PerLine,
}

/// The pid style of a program.
pub fn pid_style_for(name: &str) -> PidStyle {
    match name.to_ascii_lowercase().as_str() {
        "kernel" => PidStyle::None,
        "cron" | "crond" | "sshd" | "sudo" => PidStyle::PerLine,
        lower if lower.starts_with("postfix") => PidStyle::PerLine,
        _ => PidStyle::Fixed,
    }
}

/// A Java package segment for a service name (`payment-gateway` → `paymentgateway`).
pub fn package_name(service: &str) -> String {
    let package: String = service
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase();
    if package.is_empty() || package.starts_with(|c: char| c.is_ascii_digit()) {
        format!("svc{package}")
    } else {
        package
    }
}

/// The sub-package and class names a domain's loggers use.
pub fn classes_for(domain: Domain) -> (&'static str, &'static [&'static str]) {
    match domain {
        Http => (
            "web",
            &[
                "RequestLoggingFilter",
                "ApiController",
                "GlobalExceptionHandler",
            ],
        ),
        Db => (
            "persistence",
            &["OrderRepository", "JdbcTemplateDao", "TransactionManager"],
        ),
        Cache => ("cache", &["RedisCacheService", "CacheLoader"]),
        Auth => (
            "security",
            &["JwtAuthenticationFilter", "LoginService", "SessionManager"],
        ),
        Payment => (
            "payment",
            &["PaymentService", "StripeClient", "FraudCheckService"],
        ),
        Order => (
            "order",
            &["OrderService", "CheckoutService", "OrderStateMachine"],
        ),
        Cart => ("cart", &["CartService", "CartController"]),
        Catalog => ("catalog", &["ProductService", "CatalogIndexer"]),
        Inventory => ("inventory", &["StockService", "ReservationService"]),
        Shipping => ("shipping", &["ShipmentService", "CarrierClient"]),
        Search => ("search", &["SearchService", "QueryParser"]),
        Notify => ("notification", &["EmailSender", "PushNotificationService"]),
        Kafka => ("messaging", &["OrderEventsListener", "EventPublisher"]),
        Scheduler => ("jobs", &["ScheduledJobRunner", "JobLock"]),
        Jvm => ("monitoring", &["GcLogger", "RuntimeMetrics"]),
        Probe => ("health", &["HealthIndicator", "ProbeController"]),
        Lifecycle => ("config", &["Application", "ConfigWatcher"]),
        Tls => ("tls", &["CertificateWatcher", "SslContextFactory"]),
        Retry => ("client", &["ResilientHttpClient", "CircuitBreakerRegistry"]),
        Sshd | Cron | Systemd | Kernel | Sudo | Postfix | Kubelet | Chrony => {
            ("system", &["Agent"])
        }
    }
}

/// The thread a Java line of `domain` runs on; request threads are numbered per line.
pub fn thread_for(domain: Domain, request_scoped: bool) -> &'static str {
    if request_scoped {
        return "http-nio-8080-exec-";
    }
    match domain {
        Kafka => "org.springframework.kafka.KafkaListenerEndpointContainer#0-0-C-1",
        Scheduler => "scheduling-1",
        Db => "HikariPool-1 housekeeper",
        Cache => "lettuce-eventExecutorLoop-1-2",
        Jvm => "gc-metrics",
        Lifecycle => "main",
        _ => "task-",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_map_to_their_domains() {
        assert!(domains_for("checkout").contains(&Payment));
        assert_eq!(domains_for("sshd"), &[Sshd]);
        assert_eq!(domains_for("postfix/smtpd"), &[Postfix]);
        assert_eq!(domains_for("something-else"), GENERIC);
    }

    #[test]
    fn facilities_follow_rfc5424() {
        assert_eq!(facility_for("kernel"), 0);
        assert_eq!(facility_for("CRON"), 9);
        assert_eq!(facility_for("postfix/qmgr"), 2);
        assert_eq!(facility_for("checkout"), 16);
    }

    #[test]
    fn package_names_are_java_identifiers() {
        assert_eq!(package_name("payment-gateway"), "paymentgateway");
        assert_eq!(package_name("3d"), "svc3d");
    }
}
