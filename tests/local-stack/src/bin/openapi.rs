//! Prints the API document built from the functions' types; `./dev openapi` writes it to
//! openapi.json, which the tests hold the types to.

fn main() {
    print!("{}", local_stack::openapi::document_text());
}
