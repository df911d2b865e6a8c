//! The probe engine against real loopback sockets: TCP open / closed / filtered, UDP open /
//! closed / filtered, invalid targets, completion order, the input credit (`want`), cancel
//! without a leaked descriptor, and no TIME_WAIT left on the prober.

use berth_core::probe::{
    ProbeConfig, ProbeOutcome, ProbeProtocol, ProbeRun, ProbeSink, ProbeState,
};
use socket2::{Domain, Socket, Type};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Mutex, MutexGuard};

/// Tests run one at a time: the descriptor count of the process is part of what they check.
async fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::const_new(());
    SERIAL.lock().await
}

struct Call {
    batch: Vec<ProbeOutcome>,
    want: u32,
    done: bool,
}

struct ChannelSink(mpsc::UnboundedSender<Call>);

impl ProbeSink for ChannelSink {
    fn results(&self, batch: Vec<ProbeOutcome>, want: u32, done: bool) -> bool {
        self.0.send(Call { batch, want, done }).is_ok()
    }
}

fn start(config: ProbeConfig) -> (Arc<ProbeRun>, mpsc::UnboundedReceiver<Call>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let run = ProbeRun::start(
        config,
        Arc::new(ChannelSink(tx)),
        &berth_core::runtime::handle(),
    );
    (run, rx)
}

async fn next_call(rx: &mut mpsc::UnboundedReceiver<Call>) -> Call {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("no sink call within 20 s")
        .expect("the sink was dropped before the final call")
}

/// After the final call the run drops its sink: nothing more can come.
async fn assert_no_more_calls(rx: &mut mpsc::UnboundedReceiver<Call>) {
    let after = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("the sink was not dropped after the final call");
    assert!(after.is_none(), "a call came after the final one");
}

struct Report {
    /// In the order the sink got them.
    outcomes: Vec<ProbeOutcome>,
    /// Targets pushed and not reported yet, at most, seen after each push.
    max_outstanding: usize,
    largest_batch: usize,
}

/// Feeds `targets` as the sink asks for them (never more than the credit), to the end.
async fn run_all(config: ProbeConfig, targets: &[String]) -> Report {
    let (run, mut rx) = start(config);
    let mut report = Report {
        outcomes: Vec::new(),
        max_outstanding: 0,
        largest_batch: 0,
    };
    let (mut credit, mut pushed, mut ended) = (0usize, 0usize, false);
    loop {
        let call = next_call(&mut rx).await;
        report.largest_batch = report.largest_batch.max(call.batch.len());
        report.outcomes.extend(call.batch);
        if call.done {
            break;
        }
        credit += call.want as usize;
        let n = credit.min(targets.len() - pushed);
        if n > 0 {
            run.push(
                (pushed..pushed + n)
                    .map(|i| (i as u64, targets[i].clone()))
                    .collect(),
            );
            pushed += n;
            credit -= n;
        }
        let outstanding = pushed - report.outcomes.len();
        report.max_outstanding = report.max_outstanding.max(outstanding);
        if pushed == targets.len() && !ended {
            run.end_input();
            ended = true;
        }
    }
    assert_no_more_calls(&mut rx).await;
    assert_eq!(pushed, targets.len(), "the run ended before all input");
    report
}

fn tcp(timeout_ms: u64) -> ProbeConfig {
    ProbeConfig {
        concurrency: 64,
        timeout: Duration::from_millis(timeout_ms),
        ..ProbeConfig::default()
    }
}

fn udp(timeout_ms: u64, payload: &[u8]) -> ProbeConfig {
    ProbeConfig {
        protocol: ProbeProtocol::Udp,
        payload: payload.to_vec(),
        ..tcp(timeout_ms)
    }
}

fn loopback(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// A listener that accepts (and drops) every connection, so its queue never fills.
fn open_port() -> u16 {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    listener.listen(4096).unwrap();
    let port = listener.local_addr().unwrap().as_socket().unwrap().port();
    // A connection the prober reset before it was accepted may fail its accept (Windows:
    // WSAECONNRESET): that must not end the accepting, or the backlog fills and refuses.
    thread::spawn(move || loop {
        match listener.accept() {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
                ) => {}
            Err(_) => break,
        }
    });
    port
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A listener with backlog 1 that never accepts, its queue filled first: further SYNs are
/// dropped, so a connect never completes. Keep what this returns alive.
fn filtered_port() -> (Socket, Vec<TcpStream>, u16) {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    listener.listen(1).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..64 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(stream) => fillers.push(stream),
            Err(_) => return (listener, fillers, addr.port()),
        }
    }
    panic!("connects to a listener that never accepts kept completing");
}

fn state_of(report: &Report, index: u64) -> &ProbeOutcome {
    report
        .outcomes
        .iter()
        .find(|o| o.index == index)
        .unwrap_or_else(|| panic!("no result for index {index}"))
}

#[cfg(unix)]
fn open_fds() -> usize {
    // /proc/self/fd on Linux; /dev/fd lists the calling process's descriptors on macOS too.
    let dir = if cfg!(target_os = "linux") {
        "/proc/self/fd"
    } else {
        "/dev/fd"
    };
    std::fs::read_dir(dir).unwrap().count()
}

#[tokio::test]
async fn tcp_open_and_closed() {
    let _serial = serial().await;
    let (open, closed) = (open_port(), closed_port());
    let targets = vec![
        loopback(open),
        loopback(closed),
        format!("[::1]:{closed}"),
        // A name (from /etc/hosts): probed at its IPv4 address.
        format!("localhost:{open}"),
    ];
    let report = run_all(tcp(2000), &targets).await;
    assert_eq!(report.outcomes.len(), 4);
    let o = state_of(&report, 0);
    assert_eq!(o.state, ProbeState::Open, "{o:?}");
    assert!(o.rtt_us > 0 && o.rtt_us < 2_000_000, "{o:?}");
    assert_eq!((o.code.as_deref(), o.message.as_deref()), (None, None));
    assert_eq!(state_of(&report, 1).state, ProbeState::Closed);
    // ::1 without IPv6 on loopback is a local failure, not a finding about the port.
    let v6 = state_of(&report, 2);
    assert!(
        v6.state == ProbeState::Closed
            || (v6.state == ProbeState::Error && v6.code.as_deref() == Some("EADDRNOTAVAIL")),
        "{v6:?}"
    );
    let name = state_of(&report, 3);
    assert_eq!(name.state, ProbeState::Open, "{name:?}");
}

#[tokio::test]
async fn tcp_filtered_when_the_syn_is_never_answered() {
    let _serial = serial().await;
    let (_listener, _fillers, port) = filtered_port();
    let started = Instant::now();
    let report = run_all(tcp(300), &[loopback(port)]).await;
    let o = state_of(&report, 0);
    assert_eq!(o.state, ProbeState::Filtered, "{o:?}");
    assert!(o.rtt_us >= 290_000, "{o:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn invalid_targets_are_error_results_and_the_run_goes_on() {
    let _serial = serial().await;
    let open = open_port();
    let bad = [
        "nonsense",
        "unix:/tmp/berth-probe.sock",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "[::1]",
        "::1:80",
        "",
    ];
    let mut targets: Vec<String> = bad.iter().map(|s| s.to_string()).collect();
    targets.push(loopback(open));
    let report = run_all(tcp(2000), &targets).await;
    assert_eq!(report.outcomes.len(), targets.len());
    for (i, target) in bad.iter().enumerate() {
        let o = state_of(&report, i as u64);
        assert_eq!(o.state, ProbeState::Error, "{o:?}");
        assert_eq!(o.code.as_deref(), Some("INVALID_TARGET"), "{o:?}");
        let message = o.message.as_deref().unwrap_or_default();
        assert!(message.contains(&format!("{target:?}")), "{message}");
    }
    assert_eq!(state_of(&report, bad.len() as u64).state, ProbeState::Open);
}

#[tokio::test]
async fn results_come_in_completion_order() {
    let _serial = serial().await;
    let (_listener, _fillers, slow) = filtered_port();
    let (open, closed) = (open_port(), closed_port());
    // The slow target first, then fast ones: the fast ones must all be reported before it.
    let mut targets = vec![loopback(slow)];
    for i in 0..40 {
        targets.push(loopback(if i % 2 == 0 { open } else { closed }));
    }
    let report = run_all(tcp(400), &targets).await;
    assert_eq!(report.outcomes.len(), targets.len());
    let last = report.outcomes.last().unwrap();
    assert_eq!(last.index, 0, "the slow probe was not the last result");
    assert_eq!(last.state, ProbeState::Filtered);
    for o in &report.outcomes[..40] {
        let expected = if o.index % 2 == 1 {
            ProbeState::Open
        } else {
            ProbeState::Closed
        };
        assert_eq!(o.state, expected, "{o:?}");
        assert!(o.rtt_us < 400_000, "{o:?}");
    }
}

#[tokio::test]
async fn want_never_lets_more_than_concurrency_be_outstanding() {
    let _serial = serial().await;
    let (open, closed) = (open_port(), closed_port());
    let targets: Vec<String> = (0..1500)
        .map(|i| match i % 3 {
            0 => loopback(open),
            1 => loopback(closed),
            _ => format!("bad target {i}"),
        })
        .collect();
    let config = ProbeConfig {
        concurrency: 40,
        batch: 16,
        ..tcp(2000)
    };
    let report = run_all(config, &targets).await;
    assert_eq!(report.outcomes.len(), targets.len());
    assert!(report.max_outstanding <= 40, "{}", report.max_outstanding);
    assert!(report.max_outstanding >= 20, "{}", report.max_outstanding);
    assert!(report.largest_batch <= 16, "{}", report.largest_batch);
    let mut seen = vec![false; targets.len()];
    for o in &report.outcomes {
        assert!(!seen[o.index as usize], "index {} reported twice", o.index);
        seen[o.index as usize] = true;
        let expected = match o.index % 3 {
            0 => ProbeState::Open,
            1 => ProbeState::Closed,
            _ => ProbeState::Error,
        };
        assert_eq!(o.state, expected, "{o:?}");
    }
}

// Counts the process's descriptors (/proc/self/fd, /dev/fd): Unix only. (Under Wine the
// sockets live in wineserver, not in the process's descriptor table.)
#[cfg(unix)]
#[tokio::test]
async fn cancel_closes_every_socket_and_ends_once() {
    let _serial = serial().await;
    let (_listener, _fillers, port) = filtered_port();
    let _ = berth_core::runtime::handle();
    let before = open_fds();
    let (run, mut rx) = start(ProbeConfig {
        concurrency: 200,
        ..tcp(30_000)
    });
    let first = next_call(&mut rx).await;
    assert_eq!((first.batch.len(), first.want, first.done), (0, 200, false));
    run.push((0..200).map(|i| (i, loopback(port))).collect());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(open_fds() >= before + 200, "the probes are not in flight");
    let cancelled_at = Instant::now();
    run.cancel();
    let mut reported = 0;
    loop {
        let call = next_call(&mut rx).await;
        reported += call.batch.len();
        if call.done {
            assert_eq!(call.want, 0);
            break;
        }
    }
    assert!(cancelled_at.elapsed() < Duration::from_secs(1));
    assert_eq!(reported, 0, "hung probes reported a result");
    assert_eq!(open_fds(), before, "a descriptor outlived the cancel");
    // Calls on a finished run change nothing.
    run.push(vec![(7, loopback(port))]);
    run.end_input();
    run.cancel();
    assert_no_more_calls(&mut rx).await;
}

#[tokio::test]
async fn an_empty_run_ends_once() {
    let _serial = serial().await;
    let report = run_all(tcp(100), &[]).await;
    assert!(report.outcomes.is_empty());
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn open_probes_leave_no_time_wait_on_the_prober() {
    let _serial = serial().await;
    let open = open_port();
    let targets = vec![loopback(open); 2000];
    let config = ProbeConfig {
        concurrency: 200,
        ..tcp(5000)
    };
    let report = run_all(config, &targets).await;
    assert!(report.outcomes.iter().all(|o| o.state == ProbeState::Open));
    // /proc/net/tcp: "sl local rem st ..."; the prober's sockets have the listener as remote.
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let remote = format!(":{open:04X}");
    let time_wait = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() > 3).then(|| (fields[2].to_owned(), fields[3].to_owned()))
        })
        .filter(|(rem, st)| rem.ends_with(&remote) && st == "06")
        .count();
    assert_eq!(time_wait, 0, "TIME_WAIT sockets left on the prober");
}

#[tokio::test]
async fn udp_closed_open_and_filtered() {
    let _serial = serial().await;
    let closed = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let echo = UdpSocket::bind("127.0.0.1:0").unwrap();
    let open = echo.local_addr().unwrap().port();
    thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = echo.recv_from(&mut buf) {
            let _ = echo.send_to(&buf[..n], from);
        }
    });
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let targets = vec![
        loopback(closed),
        loopback(open),
        loopback(silent.local_addr().unwrap().port()),
    ];
    let report = run_all(udp(300, b"berth probe"), &targets).await;
    let o = state_of(&report, 0);
    assert_eq!(o.state, ProbeState::Closed, "{o:?}");
    assert!(o.rtt_us < 300_000, "{o:?}");
    assert_eq!(state_of(&report, 1).state, ProbeState::Open);
    let o = state_of(&report, 2);
    assert_eq!(o.state, ProbeState::Filtered, "{o:?}");
    assert!(o.rtt_us >= 290_000, "{o:?}");
    // An empty datagram is a probe too.
    let report = run_all(udp(300, b""), &targets[..2]).await;
    assert_eq!(state_of(&report, 0).state, ProbeState::Closed);
    assert_eq!(state_of(&report, 1).state, ProbeState::Open);
}
