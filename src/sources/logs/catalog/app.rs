//! Templates of application services, for the JSON, logfmt, CRI and Java dialects: HTTP
//! handling, databases and caches, authentication, the shop's business domains (payments to
//! search), notifications, Kafka, scheduled jobs, the JVM, Kubernetes probes, TLS and retries.

use crate::sources::logs::templates::Domain::{self, *};

/// Templates of application services (JSON, logfmt, CRI, Java dialects).
pub const APP: &[(Domain, &str)] = &[
    // HTTP handling
    (
        Http,
        "Ir request completed | method={method} path={route} status={status} duration={dur} bytes={bytes}",
    ),
    (
        Http,
        "Ir request started | method={method} path={route} remote_addr={ip}",
    ),
    (
        Http,
        "Ir handled {method} {route} in {ms}ms | status={status} user_id={user_id}",
    ),
    (
        Http,
        "Ir response sent to client | status={status} bytes={bytes} duration={dur}",
    ),
    (
        Http,
        "Ir incoming request | method={method} path={path} user_agent_class=browser",
    ),
    (
        Http,
        "Ir request body parsed | content_length={bytes} content_type=application/json",
    ),
    (
        Http,
        "Ir served cached response for {route} | age_seconds={n}",
    ),
    (
        Http,
        "Wr slow request: {method} {route} took {ms}ms | threshold_ms=500 status={status}",
    ),
    (
        Http,
        "Wr client closed connection before response was written | path={route} duration={dur}",
    ),
    (
        Http,
        "Wr request rejected: payload too large | path={route} content_length={big} limit=1048576",
    ),
    (
        Http,
        "Wr rate limit exceeded for client {ip} | route={route} limit=100 window=1m",
    ),
    (
        Http,
        "Er unhandled exception while processing {method} {route} | status=500 error=\"{err}\"",
    ),
    (
        Http,
        "Er upstream returned 502 Bad Gateway | upstream={peer} path={route} duration={dur}",
    ),
    (
        Http,
        "Er failed to serialize response body | path={route} error=\"{err}\"",
    ),
    (
        Http,
        "Dr matched route {route} to handler | method={method}",
    ),
    (
        Http,
        "Dr request headers | accept=application/json x_forwarded_for={ip}",
    ),
    // Database and connection pool
    (
        Db,
        "Ir query executed | table={table} rows={n} duration={dur}",
    ),
    (
        Db,
        "Ir transaction committed | tx_id={hex} statements={n} duration={dur}",
    ),
    (
        Db,
        "Ib HikariPool-1 - Pool stats (total={n}, active={n}, idle={n}, waiting=0)",
    ),
    (
        Db,
        "Ib database migration check finished, schema version {version} is up to date",
    ),
    (Db, "Ir loaded {n} rows from {table} | duration={dur}"),
    (Db, "Wr slow query detected ({ms}ms): {sql} | table={table}"),
    (
        Db,
        "Wb HikariPool-1 - Connection is not available, request timed out after 30000ms | active={n} waiting={n}",
    ),
    (
        Db,
        "Wr transaction rolled back after serialization failure, retrying | attempt={attempt} table={table}",
    ),
    (
        Db,
        "Wb HikariPool-1 - Failed to validate connection ({err}). Possibly consider using a shorter maxLifetime value",
    ),
    (
        Db,
        "Er query failed: deadlock detected | table={table} sql=\"{sql}\"",
    ),
    (
        Db,
        "Er could not acquire JDBC connection to {db_host} | error=\"{err}\"",
    ),
    (
        Db,
        "Er duplicate key value violates unique constraint \"{table}_pkey\" | table={table}",
    ),
    (Db, "Dr executing statement: {sql}"),
    (
        Db,
        "Dr connection checked out from pool | pool=HikariPool-1 wait={dur}",
    ),
    // Cache
    (Cache, "Ir cache hit | key={cache_key} ttl_seconds={n}"),
    (
        Cache,
        "Ir cache miss, loading from database | key={cache_key}",
    ),
    (
        Cache,
        "Ir stored value in cache | key={cache_key} size_bytes={bytes} ttl_seconds=300",
    ),
    (
        Cache,
        "Ib cache statistics | hit_ratio={pct} entries={big} evictions={n}",
    ),
    (Cache, "Ib connected to redis at {db_host}"),
    (
        Cache,
        "Wr cache read timed out after {ms}ms, falling back to source | key={cache_key}",
    ),
    (
        Cache,
        "Wb redis connection lost, reconnecting | host={db_host} attempt={attempt}",
    ),
    (
        Cache,
        "Er failed to deserialize cached value | key={cache_key} error=\"{err}\"",
    ),
    (Cache, "Dr cache lookup | key={cache_key}"),
    // Authentication and sessions
    (
        Auth,
        "Ir user authenticated | user_id={user_id} method=password mfa=false",
    ),
    (
        Auth,
        "Ir session created for user {user} | session_id={hex} ttl_seconds=3600",
    ),
    (
        Auth,
        "Ir access token refreshed | user_id={user_id} expires_in=900",
    ),
    (Auth, "Ir user {user} logged out | session_id={hex}"),
    (
        Auth,
        "Ir JWT validated | subject={user_id} issuer=https://auth.internal scopes=read",
    ),
    (
        Auth,
        "Wr login failed: invalid credentials | user={user} remote_addr={ip} attempt={attempt}",
    ),
    (
        Auth,
        "Wr JWT expired | subject={user_id} expired_seconds_ago={n}",
    ),
    (
        Auth,
        "Wr account locked after repeated failures | user={user} remote_addr={ip}",
    ),
    (
        Auth,
        "Er token signature verification failed | kid={hex} remote_addr={ip}",
    ),
    (
        Auth,
        "Er could not reach identity provider {ext_host} | error=\"{err}\"",
    ),
    (
        Auth,
        "Dr checking permission {word}:read for user {user_id}",
    ),
    // Payments
    (
        Payment,
        "Ir payment authorized | order_id={order_id} amount={amount} currency={currency} provider=stripe",
    ),
    (
        Payment,
        "Ir payment captured | order_id={order_id} amount={amount} currency={currency}",
    ),
    (
        Payment,
        "Ir created payment intent {uuid} for order {order_id} | amount={amount} currency={currency}",
    ),
    (
        Payment,
        "Ir refund issued | order_id={order_id} amount={amount} currency={currency} reason=requested_by_customer",
    ),
    (
        Payment,
        "Ir 3-D Secure challenge completed | order_id={order_id} result=authenticated",
    ),
    (
        Payment,
        "Wr payment declined by issuer | order_id={order_id} decline_code=insufficient_funds",
    ),
    (
        Payment,
        "Wr payment provider slow to respond ({ms}ms) | provider={ext_host} order_id={order_id}",
    ),
    (
        Payment,
        "Wr fraud check flagged order for review | order_id={order_id} score={pct}",
    ),
    (
        Payment,
        "Er payment provider request failed | provider={ext_host} order_id={order_id} error=\"{err}\"",
    ),
    (
        Payment,
        "Er idempotency key conflict for order {order_id} | key={uuid}",
    ),
    (
        Payment,
        "Dr payment provider response | status={status} duration={dur}",
    ),
    // Orders and checkout
    (
        Order,
        "Ir order placed | order_id={order_id} user_id={user_id} items={n} total={amount} currency={currency}",
    ),
    (
        Order,
        "Ir order status changed to SHIPPED | order_id={order_id} carrier={carrier}",
    ),
    (
        Order,
        "Ir checkout session started | user_id={user_id} cart_items={n}",
    ),
    (
        Order,
        "Ir order confirmation email queued | order_id={order_id} email={email}",
    ),
    (
        Order,
        "Ir applied promotion code to order {order_id} | discount={amount} currency={currency}",
    ),
    (
        Order,
        "Ir order validated | order_id={order_id} items={n} duration={dur}",
    ),
    (
        Order,
        "Wr order total mismatch after repricing | order_id={order_id} expected={amount} actual={amount}",
    ),
    (
        Order,
        "Wr checkout abandoned: session expired | user_id={user_id} cart_items={n}",
    ),
    (
        Order,
        "Er failed to persist order {order_id} | error=\"{err}\"",
    ),
    (
        Order,
        "Er order {order_id} stuck in PENDING for {n} minutes",
    ),
    (
        Order,
        "Dr order state machine transition | order_id={order_id} from=CREATED to=VALIDATED",
    ),
    // Cart
    (
        Cart,
        "Ir item added to cart | user_id={user_id} sku={sku} quantity={n}",
    ),
    (
        Cart,
        "Ir item removed from cart | user_id={user_id} sku={sku}",
    ),
    (
        Cart,
        "Ir cart retrieved | user_id={user_id} items={n} duration={dur}",
    ),
    (
        Cart,
        "Ir merged guest cart into user cart | user_id={user_id} items={n}",
    ),
    (
        Cart,
        "Wr cart item no longer available | sku={sku} user_id={user_id}",
    ),
    (
        Cart,
        "Er failed to save cart for user {user_id} | error=\"{err}\"",
    ),
    (
        Cart,
        "Dr cart contents | user_id={user_id} skus={sku},{sku}",
    ),
    // Catalog
    (
        Catalog,
        "Ir product page rendered | sku={sku} duration={dur}",
    ),
    (
        Catalog,
        "Ir fetched product details for {sku} | price={amount} currency={currency}",
    ),
    (
        Catalog,
        "Ir listed products | category={word} page={n} results={n}",
    ),
    (
        Catalog,
        "Ib catalog index refreshed | products={big} duration={dur}",
    ),
    (
        Catalog,
        "Wr product {sku} has no price in currency {currency}",
    ),
    (
        Catalog,
        "Wr image not found for product {sku} | path={path}",
    ),
    (Catalog, "Er failed to load product {sku} | error=\"{err}\""),
    (
        Catalog,
        "Dr product cache key computed | sku={sku} key={cache_key}",
    ),
    // Inventory
    (
        Inventory,
        "Ir stock reserved | sku={sku} quantity={n} order_id={order_id}",
    ),
    (
        Inventory,
        "Ir stock level updated | sku={sku} available={n} warehouse={region}",
    ),
    (
        Inventory,
        "Ib inventory sync completed | skus={big} changed={n} duration={dur}",
    ),
    (
        Inventory,
        "Wr low stock for {sku}: {n} units left | warehouse={region}",
    ),
    (
        Inventory,
        "Wr reservation expired and was released | sku={sku} order_id={order_id}",
    ),
    (
        Inventory,
        "Er stock reservation failed: insufficient quantity | sku={sku} requested={n} available=0",
    ),
    (
        Inventory,
        "Dr reservation lock acquired | sku={sku} wait={dur}",
    ),
    // Shipping
    (
        Shipping,
        "Ir shipping quote calculated | carrier={carrier} country={country} amount={amount} currency={currency}",
    ),
    (
        Shipping,
        "Ir shipment created | order_id={order_id} carrier={carrier} tracking={tracking}",
    ),
    (
        Shipping,
        "Ir label printed for shipment {tracking} | carrier={carrier}",
    ),
    (Shipping, "Wr carrier API slow ({ms}ms) | carrier={carrier}"),
    (
        Shipping,
        "Wr address validation returned partial match | order_id={order_id} country={country}",
    ),
    (
        Shipping,
        "Er carrier rejected shipment {tracking} | carrier={carrier} error=\"{err}\"",
    ),
    (
        Shipping,
        "Dr carrier request payload size {bytes} bytes | carrier={carrier}",
    ),
    // Search
    (
        Search,
        "Ir search executed | query=\"{word} {word}\" hits={n} duration={dur}",
    ),
    (
        Search,
        "Ir autocomplete served | prefix={word} suggestions={n}",
    ),
    (
        Search,
        "Ib index segment merged | segments={n} size_mb={mb}",
    ),
    (
        Search,
        "Wr search took {ms}ms, above budget | query=\"{word}\" shards={n}",
    ),
    (
        Search,
        "Wr search returned partial results: {n} of 12 shards failed",
    ),
    (
        Search,
        "Er search cluster unavailable | host={db_host} error=\"{err}\"",
    ),
    (Search, "Dr search query parsed | terms={n} filters={n}"),
    // Notifications
    (
        Notify,
        "Ir email sent | template=order_confirmation to={email} provider=ses",
    ),
    (
        Notify,
        "Ir push notification delivered | user_id={user_id} platform=ios",
    ),
    (
        Notify,
        "Ir SMS queued | user_id={user_id} country={country}",
    ),
    (Notify, "Wr email bounced | to={email} bounce_type=soft"),
    (
        Notify,
        "Wr notification provider throttled request, backing off {ms}ms",
    ),
    (
        Notify,
        "Er failed to send email to {email} | error=\"{err}\"",
    ),
    (
        Notify,
        "Dr rendered email template order_confirmation | bytes={bytes}",
    ),
    // Kafka consumers and producers
    (
        Kafka,
        "Ib consumed record | topic={topic} partition={partition} offset={offset}",
    ),
    (
        Kafka,
        "Ib committed offsets for group {group} | topic={topic} partition={partition} offset={offset}",
    ),
    (
        Kafka,
        "Ib published event | topic={topic} key={order_id} partition={partition}",
    ),
    (
        Kafka,
        "Ib [Consumer clientId=consumer-{group}-1, groupId={group}] Adding newly assigned partitions: {topic}-{partition}",
    ),
    (
        Kafka,
        "Ib [Consumer clientId=consumer-{group}-1, groupId={group}] Setting offset for partition {topic}-{partition} to the committed offset {offset}",
    ),
    (
        Kafka,
        "Wb consumer lag is growing | group={group} topic={topic} lag={big}",
    ),
    (
        Kafka,
        "Wb [Consumer clientId=consumer-{group}-1, groupId={group}] Request joining group due to: need to re-join with the given member-id",
    ),
    (
        Kafka,
        "Wb record processing retried | topic={topic} offset={offset} attempt={attempt}",
    ),
    (
        Kafka,
        "Eb failed to process record, sending to dead letter topic | topic={topic} offset={offset} error=\"{err}\"",
    ),
    (
        Kafka,
        "Eb [Producer clientId=producer-1] Got error produce response on topic-partition {topic}-{partition}, retrying | error=NOT_LEADER_OR_FOLLOWER",
    ),
    (
        Kafka,
        "Db fetched batch | topic={topic} partition={partition} records={n}",
    ),
    // Scheduler and cron-like jobs
    (
        Scheduler,
        "Ib scheduled job started | job={job} run_id={uuid}",
    ),
    (
        Scheduler,
        "Ib scheduled job finished | job={job} duration={dur} processed={n}",
    ),
    (Scheduler, "Ib next run of {job} at {secs}s from now"),
    (
        Scheduler,
        "Wb job {job} skipped: previous run still in progress",
    ),
    (
        Scheduler,
        "Wb job {job} took longer than its interval | duration={dur}",
    ),
    (
        Scheduler,
        "Eb job {job} failed | run_id={uuid} error=\"{err}\"",
    ),
    (
        Scheduler,
        "Db acquired scheduler lock for {job} | owner={pod}",
    ),
    // JVM and runtime
    (
        Jvm,
        "Ib GC pause (G1 Evacuation Pause) young | pause_ms={ms} heap_before_mb={mb} heap_after_mb={mb}",
    ),
    (
        Jvm,
        "Ib heap usage | used_mb={mb} committed_mb={mb} max_mb=2048",
    ),
    (
        Jvm,
        "Ib thread pool stats | pool=http-nio active={n} queued={n} completed={big}",
    ),
    (
        Jvm,
        "Wb GC pause (G1 Evacuation Pause) mixed took {ms}ms | heap_after_mb={mb}",
    ),
    (Jvm, "Wb heap usage above 85% | used_mb={mb} max_mb=2048"),
    (
        Jvm,
        "Eb java.lang.OutOfMemoryError: Java heap space | thread=http-nio-8080-exec-{n}",
    ),
    (Jvm, "Db safepoint reached | total_ms={ms}"),
    // Kubernetes probes and lifecycle
    (
        Probe,
        "Ib health check passed | check=readiness duration={dur}",
    ),
    (Probe, "Ib liveness probe OK"),
    (Probe, "Ib metrics scraped | series={big} duration={dur}"),
    (
        Probe,
        "Wb readiness probe failed: dependency {peer} not ready",
    ),
    (
        Probe,
        "Eb health check failed | check=database error=\"{err}\"",
    ),
    (Probe, "Db probe request from {ip}"),
    (
        Lifecycle,
        "Ib Started Application in {secs} seconds (process running for {secs})",
    ),
    (
        Lifecycle,
        "Ib Tomcat started on port {port} (http) with context path '/'",
    ),
    (
        Lifecycle,
        "Ib configuration reloaded | version={version} changed_keys={n}",
    ),
    (
        Lifecycle,
        "Ib received SIGTERM, draining connections | in_flight={n}",
    ),
    (
        Lifecycle,
        "Ib feature flag {word} evaluated to true for {pct}% of users",
    ),
    (
        Lifecycle,
        "Wb deprecated configuration key {word}.timeout used, please migrate",
    ),
    (
        Lifecycle,
        "Eb failed to load configuration from {ext_host} | error=\"{err}\"",
    ),
    // TLS
    (
        Tls,
        "Ib TLS certificate loaded | subject=CN={cert} expires_in_days={days}",
    ),
    (
        Tls,
        "Ir TLS handshake completed | peer={ip} version={tls} cipher={cipher}",
    ),
    (Tls, "Wb TLS certificate for {cert} expires in {days} days"),
    (
        Tls,
        "Wr TLS handshake failed: client offered no supported protocol | peer={ip}",
    ),
    (
        Tls,
        "Eb x509: certificate signed by unknown authority | peer={ext_host}",
    ),
    // Retries, timeouts and outbound calls
    (
        Retry,
        "Ir outbound call succeeded | peer={peer} status={status} duration={dur}",
    ),
    (Retry, "Ir calling {peer} | method={method} path={route}"),
    (
        Retry,
        "Wr retrying request to {peer} after {err} | attempt={attempt} backoff={dur}",
    ),
    (
        Retry,
        "Wr circuit breaker {peer} transitioned from CLOSED to OPEN | failure_rate={pct}",
    ),
    (
        Retry,
        "Wr request to {peer} timed out after 1000ms | path={route}",
    ),
    (
        Retry,
        "Er giving up on {peer} after 3 attempts | error=\"{err}\"",
    ),
    (
        Retry,
        "Er circuit breaker {peer} is OPEN, rejecting call | path={route}",
    ),
    (
        Retry,
        "Dr outbound request headers | peer={peer} traceparent=00-{hex}-01",
    ),
];
