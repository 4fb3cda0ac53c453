//! The hand-written corpus of message templates, grouped by domain.
//!
//! Each entry reads `LS message | key={slot} …`: `L` is the template's level (`I`nfo, `W`arn,
//! `E`rror, `D`ebug), `S` says whether the line belongs to a request (`r`, carries trace and span
//! ids) or to background work (`b`). `{slot}` marks a variable filled from the value pools; the
//! part after ` | ` holds structured fields, rendered as keys in JSON and logfmt and as
//! `key=value` pairs after the message in plain-text dialects. The messages paraphrase what
//! common servers and libraries (Spring, Hikari, Kafka clients, OpenSSH, systemd, Postfix, the
//! Linux kernel) print, so that template miners and humans see familiar shapes.

mod app;
mod system;

pub use app::APP;
pub use system::SYSTEM;
