//! `ProbeEngine`: a connect-probe run of the engine. Targets go in with `push` as the run
//! asks for them; results come out in batches (typed arrays, one object and one callback
//! per batch) through a ref'd threadsafe function that keeps the process alive while the run
//! is on and is released after the final (`done`) batch.

use berth_core::probe::{ProbeConfig, ProbeOutcome, ProbeProtocol, ProbeRun, ProbeSink};
use napi::bindgen_prelude::{Buffer, Either, Float64Array, Uint8Array};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Error, Result, Status};
use napi_derive::napi;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[napi(object)]
pub struct ProbeEngineConfig {
    /// Probes in flight at most.
    pub concurrency: u32,
    /// Milliseconds per probe, from its start to its outcome.
    pub timeout: f64,
    /// UDP probes instead of TCP connects.
    pub udp: Option<bool>,
    /// The UDP datagram (default empty).
    pub payload: Option<Buffer>,
    /// Results per batch at most (default 256).
    pub batch: Option<u32>,
    /// As a pool's: targets whose every address it refuses are `DESTINATION_DENIED`.
    pub address_policy: Option<crate::config::AddressPolicyConfig>,
}

/// A result in state 3 (error): why.
#[napi(object)]
pub struct ProbeError {
    pub index: f64,
    /// `INVALID_TARGET`, `DNS_FAILED`, or an OS error name such as `EACCES`.
    pub code: String,
    pub message: String,
}

/// One batch of results, in completion order: `indices[i]`, `states[i]` (0 open, 1 closed,
/// 2 filtered, 3 error) and `rttUs[i]` describe one result; `errors` has one entry per
/// state-3 result. `want`: how many more targets to push, on top of earlier credit.
/// `done`: the last batch; it comes exactly once.
#[napi(object)]
pub struct ProbeBatch {
    pub indices: Float64Array,
    pub states: Uint8Array,
    pub rtt_us: Float64Array,
    pub errors: Vec<ProbeError>,
    pub want: u32,
    pub done: bool,
}

/// Strong (ref'd): a run in progress keeps the process alive, as its sockets would.
pub type BatchCallback = ThreadsafeFunction<ProbeBatch, (), ProbeBatch, Status, false>;

/// Holds the callback until the final batch, then drops (releases) it: the process may exit
/// once that batch is delivered.
struct JsProbeSink(Mutex<Option<BatchCallback>>);

impl ProbeSink for JsProbeSink {
    fn results(&self, batch: Vec<ProbeOutcome>, want: u32, done: bool) -> bool {
        let mut slot = match self.0.lock() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        let Some(callback) = slot.as_ref() else {
            return false;
        };
        let status = callback.call(
            to_batch(batch, want, done),
            ThreadsafeFunctionCallMode::NonBlocking,
        );
        if done {
            *slot = None;
        }
        status == Status::Ok
    }
}

fn to_batch(batch: Vec<ProbeOutcome>, want: u32, done: bool) -> ProbeBatch {
    let mut indices = Vec::with_capacity(batch.len());
    let mut states = Vec::with_capacity(batch.len());
    let mut rtt_us = Vec::with_capacity(batch.len());
    let mut errors = Vec::new();
    for o in batch {
        indices.push(o.index as f64);
        states.push(o.state.code());
        rtt_us.push(o.rtt_us as f64);
        if let Some(code) = o.code {
            errors.push(ProbeError {
                index: o.index as f64,
                code,
                message: o.message.unwrap_or_default(),
            });
        }
    }
    ProbeBatch {
        indices: Float64Array::new(indices),
        states: Uint8Array::new(states),
        rtt_us: Float64Array::new(rtt_us),
        errors,
        want,
        done,
    }
}

#[napi]
pub struct ProbeEngine {
    run: Arc<ProbeRun>,
}

#[napi]
impl ProbeEngine {
    /// Starts the run: the first batch (empty, `want` = concurrency) asks for input.
    #[napi(constructor, catch_unwind)]
    pub fn new(
        config: ProbeEngineConfig,
        #[napi(ts_arg_type = "(batch: ProbeBatch) => void")] on_batch: BatchCallback,
    ) -> Result<Self> {
        let address_policy = crate::config::address_policy(config.address_policy.as_ref())?;
        let config = ProbeConfig {
            concurrency: config.concurrency,
            timeout: crate::config::millis(config.timeout).unwrap_or(Duration::MAX),
            protocol: if config.udp.unwrap_or(false) {
                ProbeProtocol::Udp
            } else {
                ProbeProtocol::Tcp
            },
            payload: config.payload.map(|b| b.to_vec()).unwrap_or_default(),
            batch: config
                .batch
                .map_or(berth_core::probe::DEFAULT_BATCH, |b| b as usize),
            address_policy,
        };
        let sink = Arc::new(JsProbeSink(Mutex::new(Some(on_batch))));
        let run = ProbeRun::start(config, sink, &berth_core::runtime::fan_out());
        Ok(ProbeEngine { run })
    }

    /// Adds targets (`indices[i]` names `targets[i]` in the results); push no more than the
    /// credit the batches gave (`want`). Ignored once input ended or the run is over.
    #[napi(catch_unwind)]
    pub fn push(
        &self,
        indices: Either<Float64Array, Vec<f64>>,
        targets: Vec<String>,
    ) -> Result<()> {
        let indices: &[f64] = match &indices {
            Either::A(typed) => typed,
            Either::B(list) => list,
        };
        if indices.len() != targets.len() {
            return Err(Error::new(
                Status::InvalidArg,
                format!(
                    "push: {} indices for {} targets",
                    indices.len(),
                    targets.len()
                ),
            ));
        }
        let batch = indices.iter().map(|&i| i as u64).zip(targets).collect();
        self.run.push(batch);
        Ok(())
    }

    /// No more targets: the final batch follows once the pushed ones have completed.
    #[napi(catch_unwind)]
    pub fn end_input(&self) {
        self.run.end_input()
    }

    /// Stops the run: every socket is closed, then the final batch comes.
    #[napi(catch_unwind)]
    pub fn cancel(&self) {
        self.run.cancel()
    }
}

impl Drop for ProbeEngine {
    /// The JS object is gone (GC or env teardown): nobody can push any more, so stop.
    fn drop(&mut self) {
        self.run.cancel();
    }
}
