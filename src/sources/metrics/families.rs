//! The metric families synthtel's presets emit, with their help texts and units.

use std::sync::Arc;

use crate::model::metrics::{Family, MetricKind};

/// Every family, built once per source.
#[derive(Debug)]
pub struct Families {
    /// `http_server_request_duration_seconds` (histogram, OpenTelemetry naming).
    pub http_duration: Arc<Family>,
    /// `http_requests_total` by method, route and status class.
    pub http_requests: Arc<Family>,
    /// `http_server_active_requests` (gauge).
    pub http_active: Arc<Family>,
    /// `process_cpu_seconds_total`.
    pub process_cpu: Arc<Family>,
    /// `process_resident_memory_bytes`.
    pub process_resident: Arc<Family>,
    /// `process_virtual_memory_bytes`.
    pub process_virtual: Arc<Family>,
    /// `process_open_fds`.
    pub process_open_fds: Arc<Family>,
    /// `process_max_fds`.
    pub process_max_fds: Arc<Family>,
    /// `process_start_time_seconds`.
    pub process_start: Arc<Family>,
    /// `service_build_info`.
    pub build_info: Arc<Family>,
    /// `node_cpu_seconds_total` by cpu and mode.
    pub node_cpu: Arc<Family>,
    /// `node_memory_MemTotal_bytes`.
    pub node_mem_total: Arc<Family>,
    /// `node_memory_MemAvailable_bytes`.
    pub node_mem_available: Arc<Family>,
    /// `node_filesystem_size_bytes`.
    pub node_fs_size: Arc<Family>,
    /// `node_filesystem_avail_bytes`.
    pub node_fs_avail: Arc<Family>,
    /// `node_network_receive_bytes_total`.
    pub node_net_rx: Arc<Family>,
    /// `node_network_transmit_bytes_total`.
    pub node_net_tx: Arc<Family>,
    /// `node_disk_read_bytes_total`.
    pub node_disk_read: Arc<Family>,
    /// `node_disk_written_bytes_total`.
    pub node_disk_written: Arc<Family>,
    /// `node_load1`.
    pub node_load1: Arc<Family>,
    /// `node_load5`.
    pub node_load5: Arc<Family>,
    /// `node_load15`.
    pub node_load15: Arc<Family>,
    /// `node_boot_time_seconds`.
    pub node_boot: Arc<Family>,
    /// `kube_pod_status_phase`.
    pub kube_phase: Arc<Family>,
    /// `kube_pod_container_status_restarts_total`.
    pub kube_restarts: Arc<Family>,
    /// `kube_pod_container_resource_limits` (memory, bytes).
    pub kube_limits: Arc<Family>,
    /// `container_cpu_usage_seconds_total`.
    pub container_cpu: Arc<Family>,
    /// `container_memory_working_set_bytes`.
    pub container_memory: Arc<Family>,
    /// `container_cpu_cfs_throttled_seconds_total`.
    pub container_throttled: Arc<Family>,
}

fn family(name: &str, kind: MetricKind, unit: &str, help: &str) -> Arc<Family> {
    Arc::new(Family {
        name: name.into(),
        help: help.into(),
        unit: unit.into(),
        kind,
    })
}

impl Families {
    /// Builds every family.
    pub fn new() -> Self {
        use MetricKind::{Counter, Gauge, Histogram, Info};
        Families {
            http_duration: family(
                "http_server_request_duration_seconds",
                Histogram,
                "seconds",
                "Duration of HTTP server requests.",
            ),
            http_requests: family("http_requests", Counter, "", "HTTP requests handled."),
            http_active: family(
                "http_server_active_requests",
                Gauge,
                "",
                "Number of active HTTP server requests.",
            ),
            process_cpu: family(
                "process_cpu_seconds",
                Counter,
                "seconds",
                "Total user and system CPU time spent in seconds.",
            ),
            process_resident: family(
                "process_resident_memory_bytes",
                Gauge,
                "bytes",
                "Resident memory size in bytes.",
            ),
            process_virtual: family(
                "process_virtual_memory_bytes",
                Gauge,
                "bytes",
                "Virtual memory size in bytes.",
            ),
            process_open_fds: family(
                "process_open_fds",
                Gauge,
                "",
                "Number of open file descriptors.",
            ),
            process_max_fds: family(
                "process_max_fds",
                Gauge,
                "",
                "Maximum number of open file descriptors.",
            ),
            process_start: family(
                "process_start_time_seconds",
                Gauge,
                "seconds",
                "Start time of the process since unix epoch in seconds.",
            ),
            build_info: family(
                "service_build",
                Info,
                "",
                "Version of the running service build.",
            ),
            node_cpu: family(
                "node_cpu_seconds",
                Counter,
                "seconds",
                "Seconds the CPUs spent in each mode.",
            ),
            node_mem_total: family(
                "node_memory_MemTotal_bytes",
                Gauge,
                "bytes",
                "Memory information field MemTotal_bytes.",
            ),
            node_mem_available: family(
                "node_memory_MemAvailable_bytes",
                Gauge,
                "bytes",
                "Memory information field MemAvailable_bytes.",
            ),
            node_fs_size: family(
                "node_filesystem_size_bytes",
                Gauge,
                "bytes",
                "Filesystem size in bytes.",
            ),
            node_fs_avail: family(
                "node_filesystem_avail_bytes",
                Gauge,
                "bytes",
                "Filesystem space available to non-root users in bytes.",
            ),
            node_net_rx: family(
                "node_network_receive_bytes",
                Counter,
                "bytes",
                "Network device statistic receive_bytes.",
            ),
            node_net_tx: family(
                "node_network_transmit_bytes",
                Counter,
                "bytes",
                "Network device statistic transmit_bytes.",
            ),
            node_disk_read: family(
                "node_disk_read_bytes",
                Counter,
                "bytes",
                "The total number of bytes read successfully.",
            ),
            node_disk_written: family(
                "node_disk_written_bytes",
                Counter,
                "bytes",
                "The total number of bytes written successfully.",
            ),
            node_load1: family("node_load1", Gauge, "", "1m load average."),
            node_load5: family("node_load5", Gauge, "", "5m load average."),
            node_load15: family("node_load15", Gauge, "", "15m load average."),
            node_boot: family(
                "node_boot_time_seconds",
                Gauge,
                "seconds",
                "Node boot time, in unixtime.",
            ),
            kube_phase: family(
                "kube_pod_status_phase",
                Gauge,
                "",
                "The pods current phase.",
            ),
            kube_restarts: family(
                "kube_pod_container_status_restarts",
                Counter,
                "",
                "The number of container restarts per container.",
            ),
            kube_limits: family(
                "kube_pod_container_resource_limits",
                Gauge,
                "",
                "The number of requested limit resource by a container.",
            ),
            container_cpu: family(
                "container_cpu_usage_seconds",
                Counter,
                "seconds",
                "Cumulative cpu time consumed in seconds.",
            ),
            container_memory: family(
                "container_memory_working_set_bytes",
                Gauge,
                "bytes",
                "Current working set in bytes.",
            ),
            container_throttled: family(
                "container_cpu_cfs_throttled_seconds",
                Counter,
                "seconds",
                "Total time duration the container has been throttled.",
            ),
        }
    }
}

impl Default for Families {
    fn default() -> Self {
        Families::new()
    }
}
