//! Templates of Unix programs (sshd, cron, systemd, the kernel, sudo, Postfix, kubelet,
//! chronyd), for the syslog dialects.

use crate::sources::logs::templates::Domain::{self, *};

/// Templates of Unix programs (syslog dialects).
pub const SYSTEM: &[(Domain, &str)] = &[
    // sshd
    (
        Sshd,
        "Ib Accepted publickey for {user} from {ip} port {port} ssh2: RSA SHA256:{fp}",
    ),
    (
        Sshd,
        "Ib Accepted password for {user} from {ip} port {port} ssh2",
    ),
    (
        Sshd,
        "Ib pam_unix(sshd:session): session opened for user {user}(uid={pid}) by (uid=0)",
    ),
    (
        Sshd,
        "Ib pam_unix(sshd:session): session closed for user {user}",
    ),
    (
        Sshd,
        "Ib Received disconnect from {ip} port {port}:11: disconnected by user",
    ),
    (Sshd, "Ib Disconnected from user {user} {ip} port {port}"),
    (Sshd, "Ib Connection closed by {ip} port {port} [preauth]"),
    (Sshd, "Ib Server listening on 0.0.0.0 port 22."),
    (Sshd, "Wb Invalid user {word} from {ip} port {port}"),
    (
        Sshd,
        "Wb Failed password for invalid user {word} from {ip} port {port} ssh2",
    ),
    (
        Sshd,
        "Wb Failed password for {user} from {ip} port {port} ssh2",
    ),
    (
        Sshd,
        "Wb Connection reset by authenticating user {user} {ip} port {port} [preauth]",
    ),
    (
        Sshd,
        "Wb Unable to negotiate with {ip} port {port}: no matching key exchange method found.",
    ),
    (
        Sshd,
        "Eb error: maximum authentication attempts exceeded for {user} from {ip} port {port} ssh2 [preauth]",
    ),
    (
        Sshd,
        "Eb fatal: Timeout before authentication for {ip} port {port}",
    ),
    (
        Sshd,
        "Db debug1: userauth-request for user {user} service ssh-connection method publickey",
    ),
    // cron
    (
        Cron,
        "Ib ({user}) CMD (/usr/local/bin/{job}.sh > /dev/null 2>&1)",
    ),
    (
        Cron,
        "Ib (root) CMD (   cd / && run-parts --report /etc/cron.hourly)",
    ),
    (
        Cron,
        "Ib (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
    ),
    (
        Cron,
        "Ib pam_unix(cron:session): session opened for user {user}(uid={pid}) by (uid=0)",
    ),
    (
        Cron,
        "Ib pam_unix(cron:session): session closed for user {user}",
    ),
    (Cron, "Ib (*system*) RELOAD (/etc/crontab)"),
    (
        Cron,
        "Wb ({user}) MAIL (mailed {n} bytes of output but got status 0x004b from MTA)",
    ),
    (
        Cron,
        "Eb (CRON) error (grandchild #{pid} failed with exit status {n})",
    ),
    (Cron, "Db ({user}) RELOAD (crontabs/{user})"),
    // systemd
    (Systemd, "Ib Started {unit} - Session {n} of User {user}."),
    (Systemd, "Ib Starting {unit}..."),
    (Systemd, "Ib Finished {unit}."),
    (Systemd, "Ib {unit}: Deactivated successfully."),
    (Systemd, "Ib {unit}: Consumed {secs}s CPU time."),
    (
        Systemd,
        "Ib Created slice user-{pid}.slice - User Slice of UID {pid}.",
    ),
    (
        Systemd,
        "Ib Reloading requested from client PID {pid} ('systemctl') (unit session-{n}.scope)...",
    ),
    (
        Systemd,
        "Wb {unit}: Scheduled restart job, restart counter is at {n}.",
    ),
    (Systemd, "Wb {unit}: Watchdog timeout (limit 3min)!"),
    (
        Systemd,
        "Eb {unit}: Main process exited, code=exited, status=1/FAILURE",
    ),
    (Systemd, "Eb {unit}: Failed with result 'exit-code'."),
    (Systemd, "Eb Failed to start {unit}."),
    (Systemd, "Db {unit}: Changed dead -> running"),
    // kernel
    (
        Kernel,
        "Ib [{big}.{pid}] {iface}: Link is Up - 10Gbps/Full - flow control off",
    ),
    (
        Kernel,
        "Ib [{big}.{pid}] IPv6: ADDRCONF(NETDEV_CHANGE): {iface}: link becomes ready",
    ),
    (
        Kernel,
        "Ib [{big}.{pid}] EXT4-fs ({dev}): mounted filesystem with ordered data mode. Quota mode: none.",
    ),
    (
        Kernel,
        "Ib [{big}.{pid}] audit: type=1400 audit({secs}:{n}): apparmor=\"STATUS\" operation=\"profile_replace\" name=\"{word}\" pid={pid}",
    ),
    (
        Kernel,
        "Ib [{big}.{pid}] device {iface} entered promiscuous mode",
    ),
    (
        Kernel,
        "Wb [{big}.{pid}] TCP: request_sock_TCP: Possible SYN flooding on port {port}. Sending cookies.",
    ),
    (
        Kernel,
        "Wb [{big}.{pid}] nf_conntrack: nf_conntrack: table full, dropping packet",
    ),
    (Kernel, "Wb [{big}.{pid}] {iface}: Link is Down"),
    (
        Kernel,
        "Eb [{big}.{pid}] Out of memory: Killed process {pid} (java) total-vm:{big}kB, anon-rss:{big}kB, file-rss:0kB",
    ),
    (
        Kernel,
        "Eb [{big}.{pid}] blk_update_request: I/O error, dev {dev}, sector {big} op 0x0:(READ)",
    ),
    (
        Kernel,
        "Eb [{big}.{pid}] java[{pid}]: segfault at {addr} ip {addr} sp {addr} error 4 in libjvm.so",
    ),
    (Kernel, "Db [{big}.{pid}] {iface}: renamed from veth{hex}"),
    // sudo
    (
        Sudo,
        "Ib {user} : TTY={tty} ; PWD=/home/{user} ; USER=root ; COMMAND={cmd}",
    ),
    (
        Sudo,
        "Ib pam_unix(sudo:session): session opened for user root(uid=0) by {user}(uid={pid})",
    ),
    (
        Sudo,
        "Ib pam_unix(sudo:session): session closed for user root",
    ),
    (
        Sudo,
        "Wb {user} : 3 incorrect password attempts ; TTY={tty} ; PWD=/home/{user} ; USER=root ; COMMAND={cmd}",
    ),
    (
        Sudo,
        "Eb {user} : user NOT in sudoers ; TTY={tty} ; PWD=/home/{user} ; USER=root ; COMMAND={cmd}",
    ),
    (
        Sudo,
        "Db {user} : command allowed by rule in /etc/sudoers.d/{word}",
    ),
    // postfix
    (Postfix, "Ib connect from {mail_host}[{ip}]"),
    (
        Postfix,
        "Ib disconnect from {mail_host}[{ip}] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5",
    ),
    (Postfix, "Ib {qid}: client={mail_host}[{ip}]"),
    (
        Postfix,
        "Ib {qid}: from=<{email}>, size={bytes}, nrcpt=1 (queue active)",
    ),
    (
        Postfix,
        "Ib {qid}: to=<{email}>, relay={mail_host}[{ip}]:25, delay={secs}, dsn=2.0.0, status=sent (250 2.0.0 OK)",
    ),
    (Postfix, "Ib {qid}: removed"),
    (
        Postfix,
        "Wb {qid}: to=<{email}>, relay=none, delay={secs}, dsn=4.4.1, status=deferred (connect to {mail_host}[{ip}]:25: Connection timed out)",
    ),
    (
        Postfix,
        "Wb warning: hostname {mail_host} does not resolve to address {ip}",
    ),
    (
        Postfix,
        "Eb NOQUEUE: reject: RCPT from unknown[{ip}]: 554 5.7.1 <{email}>: Relay access denied",
    ),
    (
        Postfix,
        "Eb {qid}: to=<{email}>, relay=none, delay={secs}, dsn=5.1.1, status=bounced (Host or domain name not found)",
    ),
    (Postfix, "Db {qid}: message-id=<{uuid}@{mail_host}>"),
    // kubelet
    (
        Kubelet,
        "Ib \"SyncLoop UPDATE\" source=\"api\" pods=[\"default/{pod}\"]",
    ),
    (
        Kubelet,
        "Ib \"Probe succeeded\" probeType=\"Readiness\" pod=\"default/{pod}\"",
    ),
    (
        Kubelet,
        "Ib \"Started container\" containerName=\"app\" pod=\"default/{pod}\" image=\"{image}\"",
    ),
    (Kubelet, "Ib \"Pulling image\" image=\"{image}\""),
    (
        Kubelet,
        "Ib \"Successfully pulled image\" image=\"{image}\" duration=\"{dur}\"",
    ),
    (
        Kubelet,
        "Wb \"Probe failed\" probeType=\"Readiness\" pod=\"default/{pod}\" output=\"HTTP probe failed with statuscode: 503\"",
    ),
    (
        Kubelet,
        "Wb \"Eviction manager: attempting to reclaim\" resourceName=\"memory\"",
    ),
    (
        Kubelet,
        "Eb \"Error syncing pod, skipping\" err=\"failed to \\\"StartContainer\\\" with CrashLoopBackOff\" pod=\"default/{pod}\"",
    ),
    (
        Kubelet,
        "Eb \"Failed to pull image\" image=\"{image}\" err=\"rpc error: code = NotFound\"",
    ),
    (
        Kubelet,
        "Db \"Container status\" pod=\"default/{pod}\" containerID=\"containerd://{container}\"",
    ),
    // chronyd
    (Chrony, "Ib Selected source {ntp} (2.pool.ntp.org)"),
    (
        Chrony,
        "Ib System clock wrong by {secs} seconds, adjustment started",
    ),
    (Chrony, "Ib Source {ntp} replaced with {ntp}"),
    (Chrony, "Wb Can't synchronise: no majority"),
    (Chrony, "Wb System clock was stepped by {secs} seconds"),
    (
        Chrony,
        "Eb Could not open NTP socket on 0.0.0.0:123 : Address already in use",
    ),
    (Chrony, "Db Source {ntp} online"),
];
