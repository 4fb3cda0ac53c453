//! The load curve of REALISM.md §2.3, in closed form.
//!
//! A service's request rate is `r0 · D(t) · W(t) · T(t)` with a diurnal `D` of two harmonics, a
//! weekend factor `W` and a slow growth `T`, plus smooth noise. Everything a metric needs —
//! counters, histogram buckets, CPU seconds — is an integral of that rate, and every integral here
//! has a closed form, so any value at any time costs O(1): the scrape endpoint computes values at
//! scrape time, memory does not grow with time, and any window can be regenerated alone.
//!
//! Noise enters counters as `η(t) = A · r(t) · z(t)`, where `z` is value noise in `[-1, 1]` with
//! knots every [`NOISE_KNOT_SECS`] seconds: its derivative bends the rate by at most about
//! ±15 % while the counter stays monotone.

use std::f64::consts::PI;

use crate::random::{Key, mix64};

/// Seconds in a day.
pub const DAY: f64 = 86_400.0;
/// Seconds in a week.
pub const WEEK: f64 = 7.0 * DAY;
/// Spacing of the knots of the value noise.
pub const NOISE_KNOT_SECS: f64 = 60.0;
/// Amplitude of the counter noise, in seconds of traffic.
const NOISE_SECS: f64 = 3.0;
/// Reference time of all integrals: 2020-01-06T00:00:00Z, a Monday.
pub const EPOCH_SECS: f64 = 1_578_268_800.0;
/// The week growth is measured from (2026-01-05, a Monday): `T = 1` that week.
pub const GROWTH_REFERENCE_WEEK: f64 = 313.0;

/// Shape of a load curve.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadShape {
    /// Mean requests per second on a weekday, before growth.
    pub base_rate: f64,
    /// First diurnal harmonic (0.33 to 0.67 gives a peak/trough of 2 to 5).
    pub a1: f64,
    /// Second diurnal harmonic.
    pub a2: f64,
    /// Hour of the day (UTC) at which the first harmonic peaks.
    pub peak_hour: f64,
    /// Load on Saturday and Sunday relative to weekdays.
    pub weekend_factor: f64,
    /// Growth per week (0.01 = 1 %).
    pub growth_per_week: f64,
}

impl Default for LoadShape {
    fn default() -> Self {
        LoadShape {
            base_rate: 10.0,
            a1: 0.5,
            a2: 0.1,
            peak_hour: 15.0,
            weekend_factor: 0.7,
            growth_per_week: 0.01,
        }
    }
}

/// A load curve with its noise.
#[derive(Clone, Debug)]
pub struct LoadCurve {
    shape: LoadShape,
    noise: Key,
    phase: f64,
    /// Smallest and largest values of `D`.
    range: (f64, f64),
}

const OMEGA: f64 = 2.0 * PI / DAY;

impl LoadCurve {
    /// A curve whose noise is drawn from `noise`.
    pub fn new(shape: LoadShape, noise: Key) -> Self {
        // sin(ω(t - phase)) peaks at peak_hour: ω(peak - phase) = π/2.
        let phase = shape.peak_hour * 3600.0 - DAY / 4.0;
        let mut curve = LoadCurve {
            shape,
            noise,
            phase,
            range: (1.0, 1.0),
        };
        curve.range = curve.scan_diurnal_range();
        curve
    }

    /// The shape.
    pub fn shape(&self) -> &LoadShape {
        &self.shape
    }

    /// The diurnal factor `D(t)` at Unix second `t`.
    pub fn diurnal(&self, t: f64) -> f64 {
        let x = OMEGA * (t - self.phase);
        1.0 + self.shape.a1 * x.sin() + self.shape.a2 * (2.0 * x).sin()
    }

    /// Smallest and largest values `D` takes.
    pub fn diurnal_range(&self) -> (f64, f64) {
        self.range
    }

    fn scan_diurnal_range(&self) -> (f64, f64) {
        let mut low = f64::MAX;
        let mut high = f64::MIN;
        for step in 0..1440 {
            let d = self.diurnal(self.phase + f64::from(step) * 60.0);
            low = low.min(d);
            high = high.max(d);
        }
        // The scan samples once a minute; widen so the true extremes lie inside, which keeps
        // `D − Dmin` non-negative everywhere.
        (low - 1e-3, high + 1e-3)
    }

    /// The weekend factor `W(t)`.
    pub fn weekly(&self, t: f64) -> f64 {
        if is_weekend(t) {
            self.shape.weekend_factor
        } else {
            1.0
        }
    }

    /// The growth factor `T(t)`: `(1 + g)` per whole week since the epoch. Growth steps once a
    /// week so that its integral stays in closed form (a geometric series of weeks).
    pub fn trend(&self, t: f64) -> f64 {
        (1.0 + self.shape.growth_per_week).powf(week_index(t) - GROWTH_REFERENCE_WEEK)
    }

    /// `Σ_{k<n} (1 + g)^k`: the growth-weighted number of whole weeks before week `n`.
    fn growth_weeks(&self, n: f64) -> f64 {
        let g = self.shape.growth_per_week;
        let scale = (1.0 + g).powf(-GROWTH_REFERENCE_WEEK);
        if g.abs() < 1e-12 {
            n
        } else {
            scale * ((1.0 + g).powf(n) - 1.0) / g
        }
    }

    /// The noise-free rate `r0 · D · W · T` at `t`.
    pub fn mean_rate(&self, t: f64) -> f64 {
        self.shape.base_rate * self.diurnal(t) * self.weekly(t) * self.trend(t)
    }

    /// Requests since [`EPOCH_SECS`] up to `t`, noise included; monotone in `t`.
    pub fn requests(&self, t: f64) -> f64 {
        let deterministic = self.shape.base_rate * self.accumulate(t, Self::day_integral_d);
        let noise = NOISE_SECS * self.mean_rate(t) * self.value_noise(t);
        (deterministic + noise).max(0.0)
    }

    /// Requests in `[from, to]`.
    pub fn requests_between(&self, from: f64, to: f64) -> f64 {
        (self.requests(to) - self.requests(from)).max(0.0)
    }

    /// The rate over the `window` seconds ending at `t`, as PromQL's `rate()` would see it.
    pub fn rate(&self, t: f64, window: f64) -> f64 {
        self.requests_between(t - window, t) / window
    }

    /// Requests weighted by the load level `w(t) = (D - Dmin)/(Dmax - Dmin) ∈ [0, 1]`, scaled
    /// by 0.8 so that its increments never exceed those of [`LoadCurve::requests`] (whose noise
    /// can take up to about 15 % off). Histograms mix a low-load and a high-load latency
    /// distribution in the proportion this gives.
    pub fn loaded_requests(&self, t: f64) -> f64 {
        let (low, high) = self.range;
        let loaded = self.accumulate(t, Self::day_integral_loaded);
        (0.8 * self.shape.base_rate * loaded / (high - low).max(1e-9)).max(0.0)
    }

    /// Integrates `T(s) · W(s) · f(s)` from the epoch to `t`, where `day(u)` integrates `f` from
    /// midnight to `u` seconds into a day (the same for every day: the harmonics have a period of
    /// one day). Whole weeks form a geometric series of growth; the current week adds its whole
    /// days and the partial day. Every term stays small or exact, so nearby values differ
    /// precisely.
    fn accumulate(&self, t: f64, day: fn(&Self, f64) -> f64) -> f64 {
        let weekend = self.shape.weekend_factor;
        let full_day = day(self, DAY);
        let elapsed = (t - EPOCH_SECS).max(0.0);
        let weeks = (elapsed / WEEK).floor();
        let into_week = elapsed - weeks * WEEK;
        let days = (into_week / DAY).floor().min(6.0);
        let into_day = into_week - days * DAY;
        let whole_days = full_day * (days.min(5.0) + weekend * (days - 5.0).max(0.0));
        let today = if days >= 5.0 { weekend } else { 1.0 } * day(self, into_day);
        let per_week = full_day * (5.0 + 2.0 * weekend);
        per_week * self.growth_weeks(weeks) + self.trend(t) * (whole_days + today)
    }

    /// The phase of the first harmonic at midnight.
    fn midnight_phase(&self) -> f64 {
        OMEGA * (-self.phase).rem_euclid(DAY)
    }

    /// `∫ D` from midnight to `u` seconds later.
    fn day_integral_d(&self, u: f64) -> f64 {
        let (a1, a2) = (self.shape.a1, self.shape.a2);
        let x0 = self.midnight_phase();
        let x = x0 + OMEGA * u;
        let harmonics = a1 * (x0.cos() - x.cos()) + a2 * ((2.0 * x0).cos() - (2.0 * x).cos()) / 2.0;
        u + harmonics / OMEGA
    }

    /// `∫ D²` from midnight to `u` seconds later.
    fn day_integral_d2(&self, u: f64) -> f64 {
        let x0 = self.midnight_phase();
        let x = x0 + OMEGA * u;
        (self.d2_antiderivative(x) - self.d2_antiderivative(x0)) / OMEGA
    }

    /// `∫ D (D − Dmin)` from midnight to `u` seconds later: never negative, never decreasing.
    fn day_integral_loaded(&self, u: f64) -> f64 {
        (self.day_integral_d2(u) - self.range.0 * self.day_integral_d(u)).max(0.0)
    }

    /// An antiderivative of `D²` in the phase variable `x`.
    fn d2_antiderivative(&self, x: f64) -> f64 {
        let (a1, a2) = (self.shape.a1, self.shape.a2);
        // D² = (1 + a1²/2 + a2²/2) + 2a1 sin x + 2a2 sin 2x − (a1²/2) cos 2x
        //      + a1a2 (cos x − cos 3x) − (a2²/2) cos 4x
        let constant = 1.0 + a1 * a1 / 2.0 + a2 * a2 / 2.0;
        constant * x - 2.0 * a1 * x.cos() - a2 * (2.0 * x).cos() - (a1 * a1 / 4.0) * (2.0 * x).sin()
            + a1 * a2 * (x.sin() - (3.0 * x).sin() / 3.0)
            - (a2 * a2 / 8.0) * (4.0 * x).sin()
    }

    /// Smooth value noise in `[-1, 1]`: random knots every minute, joined by smoothstep.
    pub fn value_noise(&self, t: f64) -> f64 {
        let position = t / NOISE_KNOT_SECS;
        let knot = position.floor();
        let fraction = position - knot;
        let blend = fraction * fraction * (3.0 - 2.0 * fraction);
        let left = self.knot(knot as i64);
        let right = self.knot(knot as i64 + 1);
        left + (right - left) * blend
    }

    fn knot(&self, index: i64) -> f64 {
        let bits = mix64(self.noise.value() ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        (bits >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

/// Whole weeks since the epoch.
fn week_index(t: f64) -> f64 {
    ((t - EPOCH_SECS) / WEEK).floor().max(0.0)
}

/// Whether Unix second `t` falls on a Saturday or Sunday (UTC).
pub fn is_weekend(t: f64) -> bool {
    let days = ((t - EPOCH_SECS) / DAY).floor();
    days.rem_euclid(7.0) >= 5.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve() -> LoadCurve {
        LoadCurve::new(
            LoadShape {
                base_rate: 100.0,
                ..LoadShape::default()
            },
            Key::new(1),
        )
    }

    const T0: f64 = 1_764_000_000.0; // late 2025

    #[test]
    fn epoch_is_a_monday_and_weekends_are_detected() {
        assert!(!is_weekend(EPOCH_SECS + 1.0));
        assert!(is_weekend(EPOCH_SECS + 5.0 * DAY + 1.0));
        assert!(is_weekend(EPOCH_SECS + 6.0 * DAY + 1.0));
        assert!(!is_weekend(EPOCH_SECS + 7.0 * DAY + 1.0));
    }

    #[test]
    fn requests_are_monotone_at_every_second_over_a_week() {
        let curve = curve();
        let mut previous = curve.requests(T0);
        let mut t = T0;
        while t < T0 + WEEK {
            t += 7.0;
            let now = curve.requests(t);
            assert!(now >= previous, "decrease at {t}: {previous} -> {now}");
            previous = now;
        }
    }

    #[test]
    fn integral_matches_numeric_integration() {
        let curve = curve();
        let (from, to) = (T0, T0 + 3.0 * DAY + 1234.0);
        let mut numeric = 0.0;
        let step = 10.0;
        let mut t = from;
        while t < to {
            numeric += curve.mean_rate(t + step / 2.0) * step;
            t += step;
        }
        let closed = curve.shape.base_rate
            * (curve.accumulate(to, LoadCurve::day_integral_d)
                - curve.accumulate(from, LoadCurve::day_integral_d));
        assert!(
            (closed - numeric).abs() / numeric < 1e-3,
            "{closed} vs {numeric}"
        );
    }

    #[test]
    fn squared_integral_matches_numeric_integration() {
        let curve = curve();
        let (from, to) = (T0 + 3600.0, T0 + DAY + 7200.0);
        let mut numeric = 0.0;
        let mut t = from;
        while t < to {
            let m = t + 5.0;
            numeric += curve.diurnal(m).powi(2) * curve.weekly(m) * curve.trend(m) * 10.0;
            t += 10.0;
        }
        let closed = curve.accumulate(to, LoadCurve::day_integral_d2)
            - curve.accumulate(from, LoadCurve::day_integral_d2);
        assert!(
            (closed - numeric).abs() / numeric < 1e-3,
            "{closed} vs {numeric}"
        );
    }

    #[test]
    fn daily_peak_to_trough_is_in_the_configured_range() {
        let curve = curve();
        let (low, high) = curve.diurnal_range();
        let ratio = high / low;
        assert!((2.0..=5.0).contains(&ratio), "peak/trough {ratio}");
        let peak = T0 - T0.rem_euclid(DAY) + 15.0 * 3600.0;
        let trough = peak - 12.0 * 3600.0;
        assert!(curve.rate(peak, 300.0) > 2.0 * curve.rate(trough, 300.0));
    }

    #[test]
    fn noise_bends_rates_by_a_bounded_amount() {
        let curve = curve();
        for i in 0..2000 {
            let t = T0 + f64::from(i) * 97.0;
            let ratio = curve.rate(t, 15.0) / curve.mean_rate(t);
            assert!((0.7..1.3).contains(&ratio), "ratio {ratio} at {t}");
        }
    }

    #[test]
    fn loaded_requests_grow_slower_than_requests() {
        let curve = curve();
        for i in 0..2000 {
            let t = T0 + f64::from(i) * 61.0;
            let d_loaded = curve.loaded_requests(t + 15.0) - curve.loaded_requests(t);
            let d_all = curve.requests(t + 15.0) - curve.requests(t);
            assert!(
                d_loaded >= 0.0 && d_loaded <= d_all,
                "{d_loaded} vs {d_all} at {t}"
            );
        }
    }

    #[test]
    fn weekends_are_quieter() {
        let curve = curve();
        let monday = EPOCH_SECS + 100.0 * WEEK;
        let saturday = monday + 5.0 * DAY;
        let weekday = curve.requests_between(monday, monday + DAY);
        let weekend = curve.requests_between(saturday, saturday + DAY);
        assert!(
            (weekend / weekday - 0.7).abs() < 0.02,
            "{}",
            weekend / weekday
        );
    }
}
