//! A probe run: targets pushed in, probes started as slots free up (one tokio task each),
//! results batched out to the sink in completion order, and the credit of targets the run
//! can take next handed out with every batch.
//!
//! The run holds at most `concurrency` targets (probes in flight, plus targets pushed but not
//! started, plus credit handed out but not pushed yet) and one batch of results.

use super::{address, tcp, udp, Finding, ProbeConfig, ProbeOutcome, ProbeProtocol, ProbeSink};
use super::{ProbeState, DEFAULT_BATCH};
use crate::net::destination::Destination;
use crate::net::policy::AddressPolicy;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, Notify};
use tokio::task::{Id, JoinError, JoinSet};

/// A batch that is not full goes out at most this long after its first result, even while
/// results keep arriving one at a time.
const MAX_BATCH_DELAY: Duration = Duration::from_millis(1);

/// Timeouts beyond this are taken as this (no deadline arithmetic can overflow).
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// The handle of a run in progress. Dropping every handle ends the input (the run finishes
/// the targets it has); it does not cancel.
pub struct ProbeRun {
    input: mpsc::UnboundedSender<Input>,
    cancel: Arc<Cancel>,
}

enum Input {
    Targets(Vec<(u64, String)>),
    End,
}

#[derive(Default)]
struct Cancel {
    requested: AtomicBool,
    notify: Notify,
}

impl ProbeRun {
    /// Starts a run on `runtime`. The sink's first call (no results, `want` = concurrency)
    /// asks for input.
    pub fn start(config: ProbeConfig, sink: Arc<dyn ProbeSink>, runtime: &Handle) -> Arc<Self> {
        let (input, rx) = mpsc::unbounded_channel();
        let cancel = Arc::new(Cancel::default());
        let driver = Driver::new(config, sink);
        runtime.spawn(driver.run(rx, Arc::clone(&cancel)));
        Arc::new(ProbeRun { input, cancel })
    }

    /// Adds targets (`index`, `"host:port"`), to be probed in this order as slots free up.
    /// Push no more than the credit the sink was given (`want`). Ignored once input ended.
    pub fn push(&self, targets: Vec<(u64, String)>) {
        if !targets.is_empty() {
            let _ = self.input.send(Input::Targets(targets));
        }
    }

    /// No more targets: the run ends once the ones pushed so far have completed.
    pub fn end_input(&self) {
        let _ = self.input.send(Input::End);
    }

    /// Stops the run: probes in flight are dropped (their sockets closed), targets not
    /// started are forgotten, and the final call follows once every socket is closed.
    pub fn cancel(&self) {
        self.cancel.requested.store(true, Ordering::SeqCst);
        self.cancel.notify.notify_one();
    }
}

struct Driver {
    sink: Arc<dyn ProbeSink>,
    concurrency: usize,
    batch_max: usize,
    timeout: Duration,
    protocol: ProbeProtocol,
    payload: Arc<[u8]>,
    policy: Arc<AddressPolicy>,
    /// Pushed, not started yet.
    queue: VecDeque<(u64, String)>,
    probes: JoinSet<ProbeOutcome>,
    /// The index of each probe in flight, to report one whose task panicked.
    indices: HashMap<Id, u64>,
    /// Credit handed out to the sink and not used by a push yet.
    granted: usize,
    batch: Vec<ProbeOutcome>,
    batch_since: Instant,
    input_ended: bool,
    done_sent: bool,
}

impl Driver {
    fn new(config: ProbeConfig, sink: Arc<dyn ProbeSink>) -> Self {
        Driver {
            sink,
            concurrency: config.concurrency.max(1) as usize,
            batch_max: config.batch.clamp(1, DEFAULT_BATCH * 256),
            timeout: config.timeout.min(MAX_TIMEOUT),
            protocol: config.protocol,
            payload: config.payload.into(),
            policy: config.address_policy,
            queue: VecDeque::new(),
            probes: JoinSet::new(),
            indices: HashMap::new(),
            granted: 0,
            batch: Vec::new(),
            batch_since: Instant::now(),
            input_ended: false,
            done_sent: false,
        }
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Input>, cancel: Arc<Cancel>) {
        let mut listening = self.flush();
        while listening && !cancel.requested.load(Ordering::SeqCst) {
            self.start_queued();
            if self.input_ended && self.queue.is_empty() && self.probes.is_empty() {
                break;
            }
            if !self.batch.is_empty()
                && (self.batch.len() >= self.batch_max
                    || self.batch_since.elapsed() >= MAX_BATCH_DELAY)
            {
                listening = self.flush();
                continue;
            }
            tokio::select! {
                biased;
                _ = cancel.notify.notified() => break,
                Some(done) = self.probes.join_next_with_id(), if !self.probes.is_empty() => {
                    self.completed(done);
                }
                input = rx.recv(), if !self.input_ended => match input {
                    Some(Input::Targets(targets)) => {
                        self.granted = self.granted.saturating_sub(targets.len());
                        self.queue.extend(targets);
                    }
                    Some(Input::End) | None => self.input_ended = true,
                },
                // Nothing else was ready: one scheduler turn later, send what there is.
                _ = tokio::task::yield_now(), if !self.batch.is_empty() => {
                    listening = self.flush();
                }
            }
        }
        // Cancelled (or ended: then nothing is left). Aborted tasks drop their sockets; wait
        // for every one so that the final call means "all closed".
        self.queue.clear();
        self.probes.abort_all();
        while let Some(done) = self.probes.join_next_with_id().await {
            self.completed(done);
        }
        self.finish();
    }

    /// Starts probes for queued targets while slots are free. Invalid targets complete at
    /// once, without a slot.
    fn start_queued(&mut self) {
        while self.probes.len() < self.concurrency && self.batch.len() < self.batch_max {
            let Some((index, target)) = self.queue.pop_front() else {
                return;
            };
            match Destination::parse(&target) {
                Ok(Destination::Unix(_)) => self.push_result(invalid(
                    index,
                    crate::redact::redact(&format!("invalid target {target:?}: a unix socket cannot be probed (expected \"host:port\" or \"[v6addr]:port\")")),
                )),
                Err(e) => self.push_result(invalid(index, e.as_probe_target())),
                Ok(dest) => {
                    let probe = probe(
                        dest,
                        self.protocol,
                        Arc::clone(&self.payload),
                        Arc::clone(&self.policy),
                        self.timeout,
                    );
                    let handle = self.probes.spawn(async move {
                        let (state, rtt_us, error) = probe.await;
                        let (code, message) = error.unzip();
                        ProbeOutcome {
                            index,
                            state,
                            rtt_us,
                            code,
                            message,
                        }
                    });
                    self.indices.insert(handle.id(), index);
                }
            }
        }
    }

    fn completed(&mut self, done: Result<(Id, ProbeOutcome), JoinError>) {
        match done {
            Ok((id, outcome)) => {
                self.indices.remove(&id);
                self.push_result(outcome);
            }
            Err(e) => {
                let index = self.indices.remove(&e.id());
                if let (Some(index), true) = (index, e.is_panic()) {
                    self.push_result(ProbeOutcome {
                        index,
                        state: ProbeState::Error,
                        rtt_us: 0,
                        code: Some("INTERNAL".to_owned()),
                        message: Some("the probe failed unexpectedly".to_owned()),
                    });
                }
            }
        }
    }

    fn push_result(&mut self, outcome: ProbeOutcome) {
        if self.batch.is_empty() {
            self.batch_since = Instant::now();
        }
        self.batch.push(outcome);
    }

    /// Sends the batch with the credit now free; false when the sink stopped listening.
    fn flush(&mut self) -> bool {
        let held = self.probes.len() + self.queue.len() + self.granted;
        let want = self.concurrency.saturating_sub(held);
        self.granted += want;
        let batch = std::mem::take(&mut self.batch);
        self.sink
            .results(batch, u32::try_from(want).unwrap_or(u32::MAX), false)
    }

    fn finish(&mut self) {
        if !self.done_sent {
            self.done_sent = true;
            let batch = std::mem::take(&mut self.batch);
            self.sink.results(batch, 0, true);
        }
    }
}

impl Drop for Driver {
    /// The final call comes exactly once, even if the run's task is dropped or panics.
    fn drop(&mut self) {
        self.finish();
    }
}

fn invalid(index: u64, message: String) -> ProbeOutcome {
    ProbeOutcome {
        index,
        state: ProbeState::Error,
        rtt_us: 0,
        code: Some("INVALID_TARGET".to_owned()),
        message: Some(message),
    }
}

/// One probe, from resolution to outcome, within `timeout`.
async fn probe(
    dest: Destination,
    protocol: ProbeProtocol,
    payload: Arc<[u8]>,
    policy: Arc<AddressPolicy>,
    timeout: Duration,
) -> (ProbeState, u64, Option<(String, String)>) {
    let start = Instant::now();
    let deadline = start + timeout;
    let finding = match address(&dest, deadline, &policy).await {
        Err(failed) => failed,
        Ok(addr) => {
            let attempt = async {
                match protocol {
                    ProbeProtocol::Tcp => tcp::probe(addr).await,
                    ProbeProtocol::Udp => udp::probe(addr, &payload).await,
                }
            };
            tokio::time::timeout_at(deadline.into(), attempt)
                .await
                .unwrap_or(Finding::Found(ProbeState::Filtered))
        }
    };
    let rtt_us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    match finding {
        Finding::Found(state) => (state, rtt_us, None),
        Finding::Failed { code, message } => (ProbeState::Error, rtt_us, Some((code, message))),
    }
}
