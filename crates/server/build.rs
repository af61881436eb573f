//! Rebuild when the dashboard's built assets change: they are embedded (`src/dashboard.rs`).
fn main() {
    println!("cargo:rerun-if-changed=../../web/dist");
}
