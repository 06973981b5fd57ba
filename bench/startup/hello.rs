// The start-up floor of any Rust program on this machine: the same work
// as `portreg --version` (one line on stdout) without portreg. Built by
// scripts/bench.sh with `rustc -O`, timed by bench/report.py beside
// /bin/true and portreg itself.
fn main() {
    println!("portreg 0.1.0");
}
