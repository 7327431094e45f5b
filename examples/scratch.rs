use demeter_sim::flink::*;
use demeter_sim::scenario::load_model;
use demeter_sim::time::*;
use rand::Rng;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model_name = args.get(1).map(|s| s.as_str()).unwrap_or("ysb");
    let trace = if model_name == "ysb" { "ADS_3D_1S_4_sub_30K_max.csv" } else { "CARS_3D_1S_4_sub_35K_max.csv" };
    let model = load_model(std::path::Path::new(&format!("models/{model_name}.toml"))).unwrap();
    let text = std::fs::read_to_string(format!("../shared/traces/demeter/datasets/{trace}")).unwrap();
    let mut rng = demeter_sim::rng::stream(1, "w");
    let rates: Vec<f64> = text.lines().skip(1).map(|l| l.split('|').nth(1).unwrap().parse::<f64>().unwrap() * 3.0 * (1.0 + rng.random_range(-0.1..0.1))).collect();
    let t0 = std::time::Instant::now();
    let mut twin = Twin::new(TwinSetup {
        model, config: JobConfig { scale_out: 24, task_slots: 1, cpu: 1.0, memory_mb: 4096, checkpoint_interval: SimDuration::from_secs(10), parallelism_overrides: vec![] },
        scheduler: SchedulerMode::Default, node_speed: 1.0, workload_rps: rates, tick: SimDuration::from_secs(1), horizon: SimTime::from_secs(64800),
        failures: Some(FailurePlan { kind: FailureKind::NetworkDelay { duration: SimDuration::from_secs(30) }, schedule: FailureSchedule::Periodic { every: SimDuration::from_secs(2700) }, align_before_checkpoint: Some(SimDuration::from_secs(5)) }),
        seed: 42, start_epoch: 1695974883 });
    twin.advance_until(SimTime::from_secs(64800));
    eprintln!("elapsed {:?}", t0.elapsed());
    let s = twin.series();
    let lat: Vec<f64> = s.latency_ms.points.iter().map(|p| p.1).collect();
    let mut sorted = lat.clone(); sorted.sort_by(|a,b| a.partial_cmp(b).unwrap());
    let q = |p: f64| sorted[((sorted.len() as f64 - 1.0) * p) as usize];
    println!("latency mean {:.0} p50 {:.0} p95 {:.0} p99 {:.0} share<=1.5 {:.3}", lat.iter().sum::<f64>()/lat.len() as f64, q(0.5), q(0.95), q(0.99), lat.iter().filter(|&&v| v <= 1500.0).count() as f64 / lat.len() as f64);
    let lag: Vec<f64> = s.consumer_lag.points.iter().map(|p| p.1).collect();
    println!("lag mean {:.0}  thr mean {:.0}  cpu mean {:.3}", lag.iter().sum::<f64>()/lag.len() as f64, s.throughput_rps.points.iter().map(|p|p.1).sum::<f64>()/s.throughput_rps.points.len() as f64, s.cpu_load.points.iter().map(|p|p.1).sum::<f64>()/s.cpu_load.points.len() as f64);
    println!("failures {} skipped {} restarts {} cap {:?}", twin.failures_injected().len(), twin.failures_skipped(), twin.restarts(), twin.capacity_rps());
    // lag-based recovery
    let mut sl = lag.clone(); sl.sort_by(|a,b| a.partial_cmp(b).unwrap()); let l = sl[sl.len()/2]; let thr = (3.0*l).max(l+3000.0);
    let lagmap: std::collections::BTreeMap<i64,f64> = s.consumer_lag.points.iter().cloned().collect();
    let mut recs = vec![];
    for f in twin.failures_injected() { let ti = 1695974883 + f.as_secs() as i64; let mut exceeded=false; let mut ok=0; let mut rec=None;
        for t in ti..ti+900 { if let Some(&v)=lagmap.get(&t) { if v>thr {exceeded=true; ok=0;} else if exceeded { ok+=1; if ok>=30 { rec=Some(t-29-ti); break; } } } }
        recs.push(rec.unwrap_or(900)); }
    println!("recoveries {:?} mean {:.1}", recs, recs.iter().sum::<i64>() as f64 / recs.len() as f64);
    for e in twin.events().iter().filter(|e| !e.kind.starts_with("checkpoint")).take(12) { println!("{} {} {}", e.time, e.kind, e.detail); }
}
