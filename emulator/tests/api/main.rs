//! End-to-end tests of the emulator over loopback HTTP.

mod auth;
mod common;
mod dfs_data;
mod dfs_paths;
mod domo;
mod entra;
mod persistence;
