fn main() {
    let code = portreg_cli::run(std::env::args_os());
    std::process::exit(code);
}
