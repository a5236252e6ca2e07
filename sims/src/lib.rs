//! The race catalog: each race DigitalOcean users run into, as buggy and fixed client code.
//!
//! Every race is one module with two scenarios side by side: `<race>`, the code people write
//! first (exploring it must find the race), and `<race>_fixed`, the same job done safely
//! (exploring it must stay clean). The actor code in each is ordinary `dosim_client` code a
//! user would write; the scenario around it sets up the cloud, the faults and the checks.
//! `docs/catalog.md` tells each race's story with its report and measurements.

pub mod fixtures;
pub mod lease;

pub mod delete_races_attach;
pub mod dns_record_duplicates;
pub mod failover_advisory_lock;
pub mod firewall_lost_droplet;
pub mod job_double_claim;
pub mod lease_expiry;
pub mod lost_update;
pub mod pending_event;
pub mod pooled_advisory_lock;
pub mod ranked_failover;
pub mod reserved_ip_failover;
pub mod retried_create_duplicates;
pub mod retry_storm;
pub mod spaces_copy_metadata;
pub mod spaces_delete_upload;
pub mod spaces_lock_flag;
pub mod spaces_upload_if_absent;
pub mod two_pods_attach_one_volume;
pub mod two_pods_create_one_volume;
pub mod valkey_lease;
pub mod valkey_rate_limit;
pub mod valkey_setnx_expire;
pub mod valkey_unlock;
pub mod valkey_watch;
pub mod write_skew;

use dosim::Scenario;

/// Every scenario of the catalog, each buggy variant followed by its fix.
pub fn catalog() -> Vec<Scenario> {
    vec![
        retried_create_duplicates::buggy(),
        retried_create_duplicates::fixed(),
        two_pods_create_one_volume::buggy(),
        two_pods_create_one_volume::fixed(),
        two_pods_attach_one_volume::buggy(),
        two_pods_attach_one_volume::fixed(),
        reserved_ip_failover::buggy(),
        reserved_ip_failover::fixed(),
        failover_advisory_lock::fixed(),
        pending_event::buggy(),
        pending_event::fixed(),
        retry_storm::buggy(),
        retry_storm::fixed(),
        delete_races_attach::buggy(),
        delete_races_attach::fixed(),
        lost_update::buggy(),
        lost_update::for_update(),
        lost_update::atomic(),
        lost_update::serializable(),
        write_skew::buggy(),
        write_skew::fixed(),
        lease_expiry::buggy(),
        lease_expiry::fixed(),
        ranked_failover::buggy(),
        ranked_failover::fixed(),
        job_double_claim::buggy(),
        job_double_claim::fixed(),
        dns_record_duplicates::buggy(),
        dns_record_duplicates::fixed(),
        firewall_lost_droplet::buggy(),
        firewall_lost_droplet::fixed(),
        valkey_lease::buggy(),
        valkey_lease::fixed(),
        valkey_unlock::buggy(),
        valkey_unlock::fixed(),
        valkey_setnx_expire::buggy(),
        valkey_setnx_expire::fixed(),
        valkey_rate_limit::buggy(),
        valkey_rate_limit::fixed(),
        valkey_watch::buggy(),
        valkey_watch::fixed(),
        spaces_upload_if_absent::buggy(),
        spaces_upload_if_absent::fixed(),
        spaces_lock_flag::buggy(),
        spaces_lock_flag::fixed(),
        spaces_delete_upload::buggy(),
        spaces_delete_upload::fixed(),
        spaces_copy_metadata::buggy(),
        spaces_copy_metadata::fixed(),
        pooled_advisory_lock::buggy(),
        pooled_advisory_lock::fixed(),
    ]
}
