fn main() {
    // The embedded migrations change when a file is added to the folder.
    println!("cargo:rerun-if-changed=migrations");
}
