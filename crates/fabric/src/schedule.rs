//! Pipeline schedules (GPipe, 1F1B, interleaved 1F1B) as per-GPU operation orders, and an
//! event-driven simulation of one pipeline that yields the per-stage timeline.

use serde::Serialize;

use crate::spec::Schedule;
use crate::FabricError;

/// One compute operation of a pipeline stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Op {
    pub backward: bool,
    pub micro_batch: u32,
    /// Model chunk on this GPU (0 unless interleaved).
    pub chunk: u32,
}

/// The order in which stage `s` of `p` runs its forward and backward passes.
pub fn stage_ops(schedule: Schedule, p: u32, v: u32, m: u32, s: u32) -> Vec<Op> {
    let f = |mb, chunk| Op {
        backward: false,
        micro_batch: mb,
        chunk,
    };
    let b = |mb, chunk| Op {
        backward: true,
        micro_batch: mb,
        chunk,
    };
    let mut ops = Vec::with_capacity(2 * (m * v) as usize);
    match schedule {
        Schedule::Gpipe => {
            for c in 0..v {
                for j in 0..m {
                    ops.push(f(j, c));
                }
            }
            for c in (0..v).rev() {
                for j in 0..m {
                    ops.push(b(j, c));
                }
            }
        }
        Schedule::OneFOneB => {
            let warm = (p - s - 1).min(m);
            for j in 0..warm {
                ops.push(f(j, 0));
            }
            for i in 0..m - warm {
                ops.push(f(warm + i, 0));
                ops.push(b(i, 0));
            }
            for i in m - warm..m {
                ops.push(b(i, 0));
            }
        }
        Schedule::Interleaved => {
            // Megatron-LM's interleaved order: micro-batches advance in groups of p, cycling
            // through the chunks; backward visits chunks in reverse.
            let total = m * v;
            let fwd_of = |i: u32| {
                let chunk = (i / p) % v;
                let mb = (i / (p * v)) * p + i % p;
                f(mb, chunk)
            };
            let bwd_of = |i: u32| {
                let chunk = v - 1 - (i / p) % v;
                let mb = (i / (p * v)) * p + i % p;
                b(mb, chunk)
            };
            let warm = if m == p {
                total
            } else {
                ((p - s - 1) * 2 + (v - 1) * p).min(total)
            };
            for i in 0..warm {
                ops.push(fwd_of(i));
            }
            for i in 0..total - warm {
                ops.push(fwd_of(warm + i));
                ops.push(bwd_of(i));
            }
            for i in total - warm..total {
                ops.push(bwd_of(i));
            }
        }
    }
    ops
}

/// Peak number of (micro-batch, chunk) activation sets a stage holds at once.
pub fn peak_in_flight(ops: &[Op]) -> u32 {
    let (mut live, mut peak) = (0i64, 0i64);
    for op in ops {
        if op.backward {
            // The activations are freed when the backward pass ends.
            live -= 1;
        } else {
            live += 1;
            peak = peak.max(live);
        }
    }
    peak as u32
}

/// Kind of a timeline event.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Forward,
    Backward,
    Send,
    Recv,
    /// Gradient all-reduce (ZeRO 0) or reduce-scatter (ZeRO 1-3) over the DP group.
    GradSync,
    /// Parameter all-gather over the DP group after the optimizer step (ZeRO 1/2).
    ParamGather,
    Optimizer,
}

/// One interval on a GPU's timeline. Compute events are on lane 0, communication on lane 1.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    pub start_s: f64,
    pub end_s: f64,
    pub micro_batch: Option<u32>,
    pub chunk: Option<u32>,
    pub lane: u8,
}

/// Durations the simulation needs, per virtual stage (k = chunk * p + stage).
pub struct StageTimes {
    pub fwd: Vec<f64>,
    pub bwd: Vec<f64>,
    /// Pipeline transfer time from virtual stage k to k+1 (and back), per k.
    pub p2p: Vec<f64>,
}

/// Outcome of simulating one pipeline through all its micro-batches.
pub struct PipelineRun {
    /// Per stage: end time of its last compute op.
    pub stage_end: Vec<f64>,
    /// Per stage and chunk: (start, end) of the last backward op of that chunk.
    pub last_bwd: Vec<Vec<(f64, f64)>>,
    /// Per stage: busy compute time.
    pub busy: Vec<f64>,
    pub makespan: f64,
    pub events: Option<Vec<Vec<Event>>>,
}

/// Queue a transfer of duration `t` that may start at `ready` on channel `chan`; returns its
/// arrival time and (start, edge) for the timeline.
fn transfer(
    chan_free: &mut [f64],
    chan: usize,
    ready: f64,
    t: f64,
    edge: usize,
) -> (f64, Option<(f64, usize)>) {
    let start = if t > 0.0 {
        ready.max(chan_free[chan])
    } else {
        ready
    };
    let end = start + t;
    if t > 0.0 {
        chan_free[chan] = end;
    }
    (end, Some((start, edge)))
}

/// Run the schedule. Each stage executes its ops in order; an op starts when the stage is free
/// and its input (activation or gradient from the neighbouring virtual stage) has arrived.
pub fn simulate(
    schedule: Schedule,
    p: u32,
    v: u32,
    m: u32,
    times: &StageTimes,
    record: bool,
) -> Result<PipelineRun, FabricError> {
    let vs = (p * v) as usize;
    let m_us = m as usize;
    let ops: Vec<Vec<Op>> = (0..p).map(|s| stage_ops(schedule, p, v, m, s)).collect();
    let mut done_f = vec![f64::NAN; m_us * vs];
    let mut done_b = vec![f64::NAN; m_us * vs];
    let mut free = vec![0.0f64; p as usize];
    let mut ptr = vec![0usize; p as usize];
    let mut busy = vec![0.0f64; p as usize];
    let mut last_bwd = vec![vec![(0.0, 0.0); v as usize]; p as usize];
    let mut events: Option<Vec<Vec<Event>>> = record.then(|| vec![Vec::new(); p as usize]);
    // One transfer at a time per boundary and direction: consecutive micro-batches queue.
    let mut chan_free = vec![0.0f64; 2 * vs];
    let total: usize = ops.iter().map(|o| o.len()).sum();
    let mut scheduled = 0usize;
    while scheduled < total {
        let mut progress = false;
        for s in 0..p as usize {
            while ptr[s] < ops[s].len() {
                let op = ops[s][ptr[s]];
                let k = op.chunk as usize * p as usize + s;
                let j = op.micro_batch as usize;
                // (time the input is ready, the arrival transfer if any)
                let input = if !op.backward {
                    if k == 0 {
                        Some((0.0, None))
                    } else {
                        let d = done_f[j * vs + k - 1];
                        (!d.is_nan()).then(|| {
                            transfer(&mut chan_free, 2 * (k - 1), d, times.p2p[k - 1], k - 1)
                        })
                    }
                } else if k == vs - 1 {
                    let d = done_f[j * vs + k];
                    (!d.is_nan()).then_some((d, None))
                } else {
                    let d = done_b[j * vs + k + 1];
                    (!d.is_nan()).then(|| transfer(&mut chan_free, 2 * k + 1, d, times.p2p[k], k))
                };
                let Some((ready, xfer)) = input else { break };
                let dur = if op.backward {
                    times.bwd[k]
                } else {
                    times.fwd[k]
                };
                let start = ready.max(free[s]);
                let end = start + dur;
                free[s] = end;
                busy[s] += dur;
                if op.backward {
                    done_b[j * vs + k] = end;
                    last_bwd[s][op.chunk as usize] = (start, end);
                } else {
                    done_f[j * vs + k] = end;
                }
                if let Some(ev) = events.as_mut() {
                    if let Some((sent, edge)) = xfer {
                        let t = times.p2p[edge];
                        if t > 0.0 {
                            let from = if op.backward {
                                (k + 1) % p as usize
                            } else {
                                (k - 1) % p as usize
                            };
                            for (stage, kind) in [(from, EventKind::Send), (s, EventKind::Recv)] {
                                ev[stage].push(Event {
                                    kind,
                                    start_s: sent,
                                    end_s: sent + t,
                                    micro_batch: Some(op.micro_batch),
                                    chunk: None,
                                    lane: 1,
                                });
                            }
                        }
                    }
                    ev[s].push(Event {
                        kind: if op.backward {
                            EventKind::Backward
                        } else {
                            EventKind::Forward
                        },
                        start_s: start,
                        end_s: end,
                        micro_batch: Some(op.micro_batch),
                        chunk: (v > 1).then_some(op.chunk),
                        lane: 0,
                    });
                }
                ptr[s] += 1;
                scheduled += 1;
                progress = true;
            }
        }
        if !progress {
            return Err(FabricError::Internal(format!(
                "pipeline schedule {schedule:?} deadlocked with p={p} v={v} m={m}"
            )));
        }
    }
    let makespan = free.iter().cloned().fold(0.0, f64::max);
    Ok(PipelineRun {
        stage_end: free,
        last_bwd,
        busy,
        makespan,
        events,
    })
}
