//! End-to-end tests of the emulator over loopback HTTP.

// First: its `on_both_stores!` macro is used by the modules below.
#[macro_use]
mod common;

mod access;
mod admin;
mod auth;
mod blob_blocks;
mod blob_containers;
mod blob_paths;
mod dfs_data;
mod dfs_paths;
mod domo;
mod durability;
mod entra;
mod expiry;
mod faults;
mod identities;
mod leases;
mod persistence;
mod soft_delete;
mod structured;
mod tags_and_acl;
mod tls;
mod user_delegation;
