//! Latency distributions of routes: log-normal, with a second, slower regime under load.
//!
//! Histogram buckets need `P(latency ≤ le)` and the mean, in closed form; the error function
//! comes from Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7).

/// A log-normal latency distribution, in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogNormal {
    /// Median in seconds.
    pub median: f64,
    /// Shape (standard deviation of the logarithm).
    pub sigma: f64,
}

impl LogNormal {
    /// `P(X ≤ x)`.
    pub fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        if x.is_infinite() {
            return 1.0;
        }
        let z = (x.ln() - self.median.ln()) / (self.sigma * std::f64::consts::SQRT_2);
        0.5 * (1.0 + erf(z))
    }

    /// The mean, `median · exp(σ²/2)`.
    pub fn mean(&self) -> f64 {
        self.median * (self.sigma * self.sigma / 2.0).exp()
    }

    /// The `q` quantile (inverse CDF by bisection; used in tests and exemplars).
    pub fn quantile(&self, q: f64) -> f64 {
        let (mut low, mut high) = (self.median * 1e-4, self.median * 1e4);
        for _ in 0..80 {
            let mid = (low * high).sqrt();
            if self.cdf(mid) < q {
                low = mid
            } else {
                high = mid
            }
        }
        (low * high).sqrt()
    }
}

/// The error function, Abramowitz and Stegun 7.1.26.
pub fn erf(x: f64) -> f64 {
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let x = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    sign * (1.0 - poly * (-x * x).exp())
}

/// OpenTelemetry's advisory bucket bounds for `http.server.request.duration`, in seconds.
pub const OTEL_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        for (x, expected) in [
            (0.0, 0.0),
            (0.5, 0.520_499_9),
            (1.0, 0.842_700_8),
            (2.0, 0.995_322_3),
        ] {
            assert!((erf(x) - expected).abs() < 2e-7, "erf({x})");
            assert!((erf(-x) + expected).abs() < 2e-7, "erf(-{x})");
        }
    }

    #[test]
    fn cdf_is_half_at_the_median_and_monotone() {
        let latency = LogNormal {
            median: 0.05,
            sigma: 0.6,
        };
        assert!((latency.cdf(0.05) - 0.5).abs() < 1e-6);
        let mut previous = 0.0;
        for bound in OTEL_BUCKETS {
            let p = latency.cdf(bound);
            assert!(p >= previous);
            previous = p;
        }
        assert!((latency.quantile(0.99) - 0.05 * (2.326 * 0.6f64).exp()).abs() < 1e-3);
    }
}
