//! Hand-written value lists: the closed vocabularies (tables, topics, error texts, carriers,
//! user agents…) that the value pools draw from.
//!
//! Weighted lists pair each value with a relative weight; everything else is drawn uniformly or
//! by Zipf rank in [`super::pools`].

/// Database tables named in query and constraint messages.
pub const TABLES: &[&str] = &[
    "orders",
    "order_items",
    "customers",
    "payments",
    "products",
    "inventory",
    "carts",
    "cart_items",
    "shipments",
    "sessions",
    "refunds",
    "addresses",
    "promotions",
    "audit_log",
];

/// SQL statements quoted in slow-query and debug lines.
pub const SQL: &[&str] = &[
    "SELECT o.id, o.status, o.total FROM orders o WHERE o.customer_id = $1 ORDER BY o.created_at DESC LIMIT 20",
    "UPDATE inventory SET reserved = reserved + $1 WHERE sku = $2 AND available >= $1",
    "INSERT INTO order_items (order_id, sku, quantity, price) VALUES ($1, $2, $3, $4)",
    "SELECT * FROM products WHERE category_id = $1 AND active = true",
    "SELECT count(*) FROM cart_items WHERE cart_id = $1",
    "DELETE FROM sessions WHERE expires_at < now()",
    "UPDATE payments SET status = 'captured', captured_at = now() WHERE id = $1",
    "SELECT p.sku, p.name, i.available FROM products p JOIN inventory i ON i.sku = p.sku WHERE p.sku = ANY($1)",
];

/// Error texts, in the wording of Go, Java and libc.
pub const ERRORS: &[&str] = &[
    "connection reset by peer",
    "context deadline exceeded",
    "i/o timeout",
    "connection refused",
    "no such host",
    "EOF",
    "broken pipe",
    "too many open files",
    "java.net.SocketTimeoutException: Read timed out",
    "org.postgresql.util.PSQLException: FATAL: remaining connection slots are reserved",
    "upstream connect error or disconnect/reset before headers",
    "503 Service Unavailable",
    "unexpected end of JSON input",
    "invalid character '<' looking for beginning of value",
    "lock wait timeout exceeded; try restarting transaction",
    "TLS handshake timeout",
];

/// Kafka topics.
pub const TOPICS: &[&str] = &[
    "orders.created",
    "orders.updated",
    "payments.events",
    "inventory.changes",
    "cart.events",
    "shipments.status",
    "notifications.outbound",
    "audit.events",
    "user.signups",
];

/// Kafka consumer groups.
pub const GROUPS: &[&str] = &[
    "order-processor",
    "payment-listener",
    "inventory-sync",
    "email-dispatcher",
    "analytics-loader",
];

/// Scheduled job names.
pub const JOBS: &[&str] = &[
    "cleanup-expired-sessions",
    "reindex-products",
    "send-abandoned-cart-reminders",
    "reconcile-payments",
    "export-daily-sales",
    "refresh-exchange-rates",
    "purge-soft-deleted",
    "rotate-api-keys",
    "sync-warehouse-stock",
];

/// Shipping carriers.
pub const CARRIERS: &[&str] = &["UPS", "DHL", "FedEx", "USPS", "DPD", "GLS", "Royal Mail"];

/// Country codes, roughly by e-commerce weight.
pub const COUNTRIES: &[(&str, f64)] = &[
    ("US", 40.0),
    ("DE", 10.0),
    ("GB", 9.0),
    ("FR", 7.0),
    ("CA", 5.0),
    ("NL", 4.0),
    ("JP", 4.0),
    ("AU", 3.0),
    ("ES", 3.0),
    ("IT", 3.0),
    ("BR", 2.0),
    ("IN", 2.0),
    ("SE", 1.5),
    ("PL", 1.5),
    ("MX", 1.0),
];

/// Currencies with their share of orders.
pub const CURRENCIES: &[(&str, f64)] = &[
    ("USD", 55.0),
    ("EUR", 25.0),
    ("GBP", 10.0),
    ("CAD", 4.0),
    ("JPY", 3.0),
    ("AUD", 3.0),
];

/// Warehouses.
pub const REGIONS: &[&str] = &[
    "wh-reno-1",
    "wh-columbus-2",
    "wh-leipzig-1",
    "wh-dublin-1",
    "wh-osaka-1",
];

/// External hosts called by services.
pub const EXTERNAL_HOSTS: &[&str] = &[
    "api.stripe.com",
    "api-m.paypal.com",
    "checkout-test.adyen.com",
    "api.sendgrid.com",
    "hooks.slack.com",
    "login.microsoftonline.com",
    "oauth2.googleapis.com",
    "sqs.us-east-1.amazonaws.com",
    "onlinetools.ups.com",
    "api.twilio.com",
];

/// Database, cache and search endpoints.
pub const DB_HOSTS: &[&str] = &[
    "orders-db-primary.internal:5432",
    "orders-db-replica-1.internal:5432",
    "catalog-db.internal:5432",
    "redis-master.cache.svc.cluster.local:6379",
    "redis-replica-0.cache.svc.cluster.local:6379",
    "es-data-0.search.svc.cluster.local:9200",
];

/// Cache key prefixes.
pub const CACHE_PREFIXES: &[&str] = &[
    "product",
    "cart",
    "session",
    "user",
    "price",
    "stock",
    "category",
    "ratelimit",
];

/// HTTP methods of service-internal calls.
pub const METHODS: &[(&str, f64)] = &[
    ("GET", 70.0),
    ("POST", 22.0),
    ("PUT", 4.0),
    ("DELETE", 2.0),
    ("PATCH", 2.0),
];

/// HTTP statuses of service-internal calls.
pub const API_STATUSES: &[(&str, f64)] = &[
    ("200", 90.0),
    ("201", 4.0),
    ("204", 2.0),
    ("400", 1.5),
    ("404", 1.5),
    ("409", 0.4),
    ("500", 0.4),
    ("503", 0.2),
];

/// API routes, as frameworks print their patterns.
pub const API_ROUTES: &[&str] = &[
    "/api/v1/products/{id}",
    "/api/v1/products",
    "/api/v1/cart",
    "/api/v1/cart/items",
    "/api/v1/cart/items/{itemId}",
    "/api/v1/orders",
    "/api/v1/orders/{orderId}",
    "/api/v1/checkout",
    "/api/v1/payments/{paymentId}/capture",
    "/api/v1/users/{userId}",
    "/api/v1/users/me",
    "/api/v1/search",
    "/api/v1/shipping/quote",
    "/api/v1/inventory/{sku}",
    "/api/v2/recommendations",
    "/healthz",
    "/metrics",
    "/api/v1/auth/token",
];

/// TLS versions, by share.
pub const TLS_VERSIONS: &[(&str, f64)] = &[("TLSv1.3", 82.0), ("TLSv1.2", 18.0)];

/// TLS cipher suites.
pub const CIPHERS: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
];

/// systemd units.
pub const UNITS: &[&str] = &[
    "session-4182.scope",
    "apt-daily.service",
    "logrotate.service",
    "man-db.service",
    "systemd-tmpfiles-clean.service",
    "node-exporter.service",
    "containerd.service",
    "kubelet.service",
    "fstrim.service",
    "motd-news.service",
    "user@1000.service",
];

/// Network interfaces.
pub const INTERFACES: &[&str] = &["eth0", "ens5", "eno1", "cni0", "flannel.1", "docker0"];

/// Block devices.
pub const DEVICES: &[&str] = &["nvme0n1p1", "nvme1n1", "sda1", "xvda1", "dm-0"];

/// Terminals.
pub const TTYS: &[&str] = &["pts/0", "pts/1", "pts/2", "pts/3", "unknown"];

/// Commands run through sudo.
pub const COMMANDS: &[&str] = &[
    "/usr/bin/systemctl restart nginx",
    "/usr/bin/apt-get update",
    "/usr/bin/journalctl -u kubelet",
    "/usr/bin/docker ps",
    "/bin/cat /var/log/syslog",
    "/usr/bin/tail -f /var/log/auth.log",
    "/usr/sbin/reboot",
];

/// Container images.
pub const IMAGES: &[&str] = &[
    "registry.k8s.io/pause:3.9",
    "docker.io/library/nginx:1.27.3",
    "ghcr.io/acme/checkout:2.14.3",
    "quay.io/prometheus/node-exporter:v1.8.2",
    "docker.io/bitnami/redis:7.4.1",
];

/// Browser and bot user agents with their share of traffic (desktop, mobile, crawlers, tools).
pub const USER_AGENTS: &[(&str, f64)] = &[
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        22.0,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
        6.0,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        8.0,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        14.0,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
        4.0,
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
        12.0,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        5.0,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        5.0,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        3.0,
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
        0.8,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        1.5,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
        1.5,
    ),
    (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        4.0,
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; +http://www.google.com/bot.html) Chrome/131.0.6778.69 Safari/537.36",
        2.0,
    ),
    (
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        2.0,
    ),
    (
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        1.2,
    ),
    (
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        0.6,
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
        0.8,
    ),
    (
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        0.6,
    ),
    ("curl/8.5.0", 0.8),
    ("python-requests/2.32.3", 0.8),
    ("Go-http-client/1.1", 0.6),
    ("kube-probe/1.31", 1.5),
    ("Prometheus/2.55.1", 0.5),
    (
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        0.3,
    ),
];

/// External referrers (the site's own pages are added per tenant).
pub const REFERRERS: &[(&str, f64)] = &[
    ("https://www.google.com/", 12.0),
    ("https://www.bing.com/", 1.5),
    ("https://duckduckgo.com/", 0.8),
    ("https://www.facebook.com/", 1.2),
    ("https://t.co/", 0.5),
    ("https://www.instagram.com/", 0.8),
    ("android-app://com.google.android.gm/", 0.4),
];

/// Access-log statuses with their share: ≈ 88 % success, ≈ 8 % 304, a little 4xx, rare 5xx.
pub const ACCESS_STATUSES: &[(u16, f64)] = &[
    (200, 85.5),
    (206, 0.6),
    (201, 0.9),
    (204, 1.0),
    (304, 8.0),
    (301, 0.8),
    (302, 1.0),
    (404, 1.2),
    (403, 0.2),
    (401, 0.25),
    (400, 0.15),
    (499, 0.1),
    (429, 0.05),
    (500, 0.15),
    (502, 0.05),
    (503, 0.05),
];
