use std::time::Instant;
use models::{Encoder, TextKind};
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}
fn main() {
    let path = std::path::Path::new("/work/main/.cache/models/e5-small-q4.bin");
    let t = Instant::now(); let c0 = cpu_ticks();
    let encoder = Encoder::load(path).unwrap();
    println!("load wall {:.0} ms cpu {} ms", t.elapsed().as_secs_f64()*1e3, (cpu_ticks()-c0)*10);
    let services = ["居住证", "身份证", "护照", "驾驶证", "营业执照", "住房公积金", "社保卡", "医保报销", "户口迁移", "结婚登记"];
    let templates = ["{}怎么办理", "办理{}需要什么材料", "{}在哪里办", "{}多久能拿到", "{}要收费吗", "{}可以网上办吗", "{}丢了怎么补办", "外地人能办{}吗", "{}的办理流程是什么", "How do I apply for {}?"];
    let qs: Vec<String> = templates.iter().flat_map(|t| services.iter().map(move |s| t.replace("{}", s))).collect();
    for q in qs.iter().take(10) { encoder.embed(&[q], TextKind::Query).unwrap(); }
    let reps = 3;
    let t = Instant::now(); let c0 = cpu_ticks();
    let mut lat = Vec::new();
    for _ in 0..reps { for q in &qs { let s = Instant::now(); encoder.embed(&[q], TextKind::Query).unwrap(); lat.push(s.elapsed().as_secs_f64()*1e3); } }
    lat.sort_by(f64::total_cmp);
    let n = (reps * qs.len()) as f64;
    println!("query mean {:.2} ms p10 {:.2} p50 {:.2} cpu {:.2} ms", t.elapsed().as_secs_f64()*1e3/n, lat[lat.len()/10], lat[lat.len()/2], (cpu_ticks()-c0) as f64*10.0/n);
    if std::env::var("XP_ONLY_QUERIES").is_ok() { return; }
    let p = "申请人应当携带本人居民身份证原件及复印件。办理地点为各区政务服务中心综合受理窗口，工作日上午九点至下午五点。符合条件的，承办机构应当自受理之日起十五个工作日内作出决定。".repeat(2);
    let ps: Vec<&str> = (0..16).map(|_| p.as_str()).collect();
    let t = Instant::now(); let c0 = cpu_ticks();
    encoder.embed(&ps, TextKind::Passage).unwrap();
    println!("batch16 wall {:.0} ms cpu {} ms ({} tokens each)", t.elapsed().as_secs_f64()*1e3, (cpu_ticks()-c0)*10, encoder.token_ids(&p, TextKind::Passage).len());
}
