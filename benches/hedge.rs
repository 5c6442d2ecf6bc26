fn main() {
    println!("BENCH hedge pending");
}
