//! The simulator: one broker over the simulated disk, the clients, a clock that jumps to the
//! broker's next deadline, crashes and restarts, and the model checked after every step.

use core::time::Duration;

use blazemq_core::Instant;
use blazemq_core::broker::harness::{Clock, Driver, Event};
use blazemq_core::broker::{BrokerConfig, ConnId};

use super::client::{Client, Membership, Req, is_silent};
use super::model::{Model, ensure};
use super::rng::Rng;
use super::storage::{Disk, FaultPlan, SimStorage};

/// The wall clock at the simulated origin.
const UNIX_MS_START: i64 = 1_700_000_000_000;
/// Longest a delivered request may wait for its answer: the longest park (a join's rebalance
/// timeout, a long poll) plus a session timeout, with room to spare.
const ANSWER_WAIT_MS_MAX: u64 = 60_000;

/// One seed's shape, drawn from the seed.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub seed: u64,
    pub clients: usize,
    pub plan: FaultPlan,
    /// Chance per thousand steps of a kill -9, and of a clean restart.
    pub crash_per_mille: u32,
    pub restart_per_mille: u32,
    /// Crashes are power losses that may tear the last write.
    pub power_loss: bool,
    pub segment_size_bytes: u64,
    /// A cap small enough that segments close and reopen all the time.
    pub open_segments_max: u32,
}

impl Scenario {
    pub fn from_seed(seed: u64, offsets_log_faults: bool) -> Self {
        let mut rng = Rng::new(seed ^ 0x5eed);
        let per_mille = if seed % 4 == 0 {
            0
        } else {
            rng.range(5, 40) as u32
        };
        Scenario {
            seed,
            clients: rng.range(2, 5) as usize,
            plan: FaultPlan {
                per_mille,
                full: false,
                offsets_log: offsets_log_faults,
                paused: false,
            },
            crash_per_mille: rng.range(0, 12) as u32,
            restart_per_mille: rng.range(0, 4) as u32,
            power_loss: seed % 5 == 4,
            segment_size_bytes: rng.range(700, 16384),
            open_segments_max: rng.range(1, 5) as u32,
        }
    }
}

/// Counts for the summary line.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    pub requests: u64,
    pub responses: u64,
    pub crashes: u64,
    pub restarts: u64,
    pub torn: u64,
    pub disconnects: u64,
    pub boot_failures: u64,
}

pub struct Sim {
    pub scenario: Scenario,
    pub rng: Rng,
    pub disk: Disk,
    /// The broker between boots; `None` only while it restarts.
    driver: Option<Driver<SimStorage>>,
    /// The clocks while no broker runs.
    clock: Clock,
    pub clients: Vec<Client>,
    pub model: Model,
    next_conn: u64,
    /// Responses to the auditor's connection.
    audit_inbox: Vec<Vec<u8>>,
    audit_conn: Option<ConnId>,
    pub step: usize,
    pub counts: Counts,
    verbose: bool,
    /// FNV-1a over the step log: equal for equal runs.
    pub digest: u64,
}

impl Sim {
    pub fn new(scenario: Scenario, verbose: bool) -> Result<Sim, String> {
        let mut rng = Rng::new(scenario.seed);
        let disk = Disk::new(rng.fork(), scenario.plan.clone());
        let mut sim = Sim {
            scenario,
            rng,
            disk,
            driver: None,
            clock: Clock::new(Instant::from_nanos(1_000_000_000), UNIX_MS_START + 1_000),
            clients: Vec::new(),
            model: Model::default(),
            next_conn: 0,
            audit_inbox: Vec::new(),
            audit_conn: None,
            step: 0,
            counts: Counts::default(),
            verbose,
            digest: 0xcbf2_9ce4_8422_2325,
        };
        for i in 0..sim.scenario.clients {
            let group = format!("g{}", sim.rng.below(2));
            let in_flight = sim.rng.range(1, 3) as usize;
            sim.clients
                .push(Client::new(i, ConnId(0), group, in_flight));
        }
        sim.boot(false)?;
        Ok(sim)
    }

    pub fn log(&mut self, line: &str) {
        for b in line.bytes() {
            self.digest = (self.digest ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        if self.verbose {
            eprintln!("[step {} t={}ms] {line}", self.step, self.now_ms());
        }
    }

    fn clock(&self) -> Clock {
        self.driver.as_ref().map_or(self.clock, |d| d.clock)
    }

    fn now_ms(&self) -> u64 {
        self.clock().now().as_nanos() / 1_000_000
    }

    fn unix_ms(&self) -> i64 {
        self.clock().unix_ms()
    }

    fn config(&self) -> BrokerConfig {
        BrokerConfig {
            segment_size_bytes: self.scenario.segment_size_bytes,
            open_segments_max: self.scenario.open_segments_max,
            auto_create_topics: false,
            // Retention must not delete what the model expects to read, nor expire the
            // offsets it expects to be committed (the clock jumps days ahead between deadlines).
            retention_ms: -1,
            offsets_retention_ms: i64::MAX,
            seed: self.scenario.seed,
            // Often enough that crashes come after checkpoints: recovery then trusts what one
            // vouches for and checks only the rest.
            log_flush_offset_checkpoint_interval_ms: Some(1_000),
            ..BrokerConfig::default()
        }
    }

    fn new_conn(&mut self) -> ConnId {
        self.next_conn += 1;
        ConnId(self.next_conn)
    }

    /// Start a broker over the disk, as an operator restarts one that failed to start; check
    /// what it recovered; connect the clients.
    fn boot(&mut self, clean: bool) -> Result<(), String> {
        let mut attempt = 0;
        let driver = loop {
            attempt += 1;
            if attempt > 5 {
                // A disk that keeps failing: let the last attempt see a healthy one.
                let mut plan = self.disk.plan();
                plan.paused = true;
                self.disk.set_plan(plan);
            }
            let storage = self.disk.storage(clean);
            match Driver::start(self.config(), storage, self.clock) {
                Ok(d) => break d,
                Err(e) if attempt <= 5 => {
                    self.counts.boot_failures += 1;
                    self.log(&format!("boot failed: {e:?}"));
                }
                Err(e) => return Err(format!("on a healthy disk, {e}")),
            }
        };
        let mut plan = self.disk.plan();
        plan.paused = false;
        self.disk.set_plan(plan);
        self.driver = Some(driver);
        self.audit()?;
        for i in 0..self.clients.len() {
            self.connect(i);
        }
        Ok(())
    }

    fn connect(&mut self, i: usize) {
        let conn = self.new_conn();
        self.clients[i].conn = conn;
        self.driver().accept(conn);
    }

    /// The broker; routing its outputs happens in `drain`.
    fn driver(&mut self) -> &mut Driver<SimStorage> {
        self.driver.as_mut().expect("a broker runs between boots")
    }

    /// Drain every output, routing responses to their clients in the order they came (and
    /// firing the deadlines of a clock move under way).
    pub fn drain(&mut self) -> Result<(), String> {
        while let Some(event) = self.driver().poll()? {
            match event {
                Event::Sent { conn, frame } => self.route(conn, &frame)?,
                Event::Closed(conn) => self.closed_by_broker(conn)?,
            }
        }
        Ok(())
    }

    fn route(&mut self, conn: ConnId, frame: &[u8]) -> Result<(), String> {
        self.counts.responses += 1;
        if self.audit_conn == Some(conn) {
            self.audit_inbox.push(frame.to_vec());
            return Ok(());
        }
        let i = self
            .clients
            .iter()
            .position(|c| c.conn == conn)
            .ok_or_else(|| format!("a response on {conn:?}, which is closed"))?;
        let line = self.clients[i].on_response(frame, &mut self.model)?;
        self.log(&line);
        Ok(())
    }

    /// The broker closed a connection: only an acks=0 produce that failed may cause it.
    fn closed_by_broker(&mut self, conn: ConnId) -> Result<(), String> {
        let i = self
            .clients
            .iter()
            .position(|c| c.conn == conn)
            .ok_or_else(|| format!("the broker closed {conn:?}, not a client's"))?;
        ensure!(
            self.clients[i].in_flight.iter().any(|p| is_silent(&p.req)),
            "the broker closed client {i}'s connection, whose requests are all valid"
        );
        self.log(&format!(
            "client {i}: closed by the broker after an acks=0 error"
        ));
        self.forget_in_flight(i);
        self.connect(i);
        Ok(())
    }

    /// A connection is gone: its unanswered requests were never handled (responses are
    /// drained as soon as they exist), acks=0 produces may have been.
    fn forget_in_flight(&mut self, i: usize) {
        let client = &mut self.clients[i];
        for p in client.in_flight.drain(..) {
            if let Req::Produce { tp, values, silent } = p.req {
                if silent {
                    self.model.silent_resolved(&tp, &values);
                } else {
                    self.model.produce_unknown(&tp, &values, false);
                }
            }
        }
        client.outbound.clear();
        client.delivered = 0;
        client.queued = 0;
        client.group_corr = None;
        if client.membership != Membership::Out {
            // A member whose connection dropped rejoins with its member id, as Kafka's does.
            client.membership = match &client.membership {
                Membership::Joining { member_id }
                | Membership::Syncing { member_id, .. }
                | Membership::Stable { member_id, .. } => Membership::Joining {
                    member_id: member_id.clone(),
                },
                Membership::Out => Membership::Out,
            };
        }
    }

    /// Move the clock to `to`, firing every deadline on the way in order.
    pub fn advance_to(&mut self, to: Instant) -> Result<(), String> {
        self.driver().advance_to(to);
        self.drain()?;
        // Spurious timeouts must be harmless: send one now and then.
        if self.rng.chance(100) {
            self.driver().timeout();
            self.drain()?;
        }
        Ok(())
    }

    /// Hand up to all of a client's unsent bytes to the broker, cut at a seeded point.
    pub fn deliver(&mut self, i: usize) -> Result<(), String> {
        let len = self.clients[i].outbound.len();
        if len == 0 {
            return Ok(());
        }
        let n = if self.rng.chance(500) {
            len
        } else {
            self.rng.range(1, len as u64) as usize
        };
        let data: Vec<u8> = self.clients[i].outbound.drain(..n).collect();
        let now = self.now();
        self.clients[i].mark_delivered(n, now);
        let conn = self.clients[i].conn;
        self.driver().feed(conn, &data);
        self.drain()
    }

    /// Every delivered request is answered in bounded time, or its connection closed.
    pub fn check_liveness(&self) -> Result<(), String> {
        for c in &self.clients {
            for p in c.in_flight.iter().filter(|p| !is_silent(&p.req)) {
                if let Some(at) = p.delivered_at {
                    let waited = self.now().saturating_duration_since(at);
                    ensure!(
                        waited <= Duration::from_millis(ANSWER_WAIT_MS_MAX),
                        "client {} request {} ({:?}) unanswered after {waited:?}",
                        c.index,
                        p.corr,
                        p.req
                    );
                }
            }
        }
        Ok(())
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.driver.as_ref().and_then(|d| d.deadline())
    }

    pub fn now(&self) -> Instant {
        self.clock().now()
    }

    pub fn unix_ms_now(&self) -> i64 {
        self.unix_ms()
    }

    /// Stop the broker: a kill -9 (`clean` false; with power loss, the last write may tear) or
    /// a clean shutdown; then start a new one over the disk.
    pub fn restart(&mut self, clean: bool) -> Result<(), String> {
        let mut driver = self.driver.take().expect("a broker runs");
        self.clock = driver.clock;
        let clean = clean && driver.shutdown().is_ok();
        drop(driver);
        self.model.crashed();
        for i in 0..self.clients.len() {
            self.forget_in_flight(i);
        }
        if clean {
            self.counts.restarts += 1;
            self.log("clean restart");
        } else {
            self.counts.crashes += 1;
            self.log("crash");
            if self.scenario.power_loss {
                self.power_loss();
            }
        }
        self.boot(clean)
    }

    fn power_loss(&mut self) {
        for c in &mut self.clients {
            c.positions.clear();
        }
        let mut rng = self.rng.fork();
        if let Some(torn) = self.disk.tear(&mut rng) {
            self.counts.torn += 1;
            self.log(&format!("power loss tore {torn:?}"));
            let tp = (torn.topic, torn.partition);
            self.model.lost(&tp, torn.base_offset, torn.last_offset);
        }
    }

    /// Give the auditor a connection, for `audit.rs`.
    pub fn open_audit(&mut self) {
        let conn = self.new_conn();
        self.audit_conn = Some(conn);
        self.driver().accept(conn);
    }

    pub fn close_audit(&mut self) {
        if let Some(conn) = self.audit_conn.take() {
            self.driver().hang_up(conn);
        }
    }

    /// Send the auditor's request and take its one response.
    pub fn audit_call(&mut self, frame: &[u8]) -> Result<Vec<u8>, String> {
        let conn = self.audit_conn.ok_or("no audit connection")?;
        self.driver().feed(conn, frame);
        self.drain()?;
        ensure!(
            self.audit_inbox.len() == 1,
            "{} answers to one audit request",
            self.audit_inbox.len()
        );
        Ok(self.audit_inbox.remove(0))
    }

    /// A client hangs up: everything it had in flight is dropped by the broker.
    pub fn disconnect(&mut self, i: usize) -> Result<(), String> {
        self.counts.disconnects += 1;
        let conn = self.clients[i].conn;
        self.log(&format!("client {i} disconnects"));
        self.driver().hang_up(conn);
        self.drain()?;
        self.forget_in_flight(i);
        self.connect(i);
        self.drain()
    }
}
