//! End-to-end tests of the emulator over loopback HTTP.

mod admin;
mod auth;
mod blob_containers;
mod blob_paths;
mod common;
mod dfs_data;
mod dfs_paths;
mod domo;
mod durability;
mod entra;
mod faults;
mod persistence;
mod tls;
