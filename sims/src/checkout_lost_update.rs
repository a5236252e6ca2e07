//! A checkout's stock update is lost when one order's read lands inside another's read-to-commit.
//!
//! **Goal.** Two customers each buy one unit of a product with 10 in stock; afterwards the stock
//! shows 8 and the orders table lists both orders, so stock plus units ordered is still 10.
//!
//! **On DigitalOcean.** A managed PostgreSQL cluster runs at READ COMMITTED. A checkout that
//! records the order, reads the stock, checks it, and writes back the stock minus the quantity
//! loses an update whenever another checkout's read lands after its read and before its commit:
//! that read still sees the old stock, because the first checkout's `UPDATE` is not committed,
//! and the second `UPDATE` waits for the row lock, then writes its own stale result over the
//! first. Orders come in at random moments, so the window (one `UPDATE` wide, among the
//! checkout's several statements) is rarely hit in testing and often enough in a sale.
//!
//! **Method.** A `shop` cluster holds `stock` with 10 units of one product and an empty `orders`
//! table. Two web hosts connect at start, each receives one order at a seeded moment within
//! [`ORDERS_WITHIN`], and runs the checkout transaction. Checks: every host finished, stock plus
//! units ordered stays 10, and some serial order of the committed transactions explains what
//! they read and left (`checks::serializable`).
//!
//! **Fix.** Read the stock `FOR UPDATE`: the second checkout's read waits for the first one's
//! commit and reads what it left.

use std::time::Duration;

use dosim::checks;
use dosim::pg::tokio_postgres::Client;
use dosim::{Actor, ActorPg, DatabaseSpec, Expect, Scenario};
use rand::Rng;

type Error = Box<dyn std::error::Error>;

const DB: &str = "shop";
const SKU: &str = "mug-blue";
const STOCK: i64 = 10;
/// Each order arrives at a seeded moment within this long of the start.
pub const ORDERS_WITHIN: Duration = Duration::from_secs(5);

const READ_STOCK: &str = "SELECT quantity FROM stock WHERE sku = $1";
const READ_STOCK_FOR_UPDATE: &str = "SELECT quantity FROM stock WHERE sku = $1 FOR UPDATE";

async fn connect(cx: &Actor) -> Result<Client, Error> {
    let config = cx.postgres_config(DB)?;
    Ok(dosim::pg::connect_with(&config).await?)
}

/// Waits for this host's order to come in.
async fn wait_for_order(cx: &Actor) {
    let within_ms = u64::try_from(ORDERS_WITHIN.as_millis()).unwrap_or(u64::MAX);
    let after_ms = cx.rng().random_range(0..within_ms);
    cx.sleep(Duration::from_millis(after_ms)).await;
}

/// One checkout: record the order, read the stock with `read_stock`, check it, write it back.
async fn checkout(db: &mut Client, customer: &str, read_stock: &str) -> Result<(), Error> {
    let quantity: i64 = 1;
    let tx = db.transaction().await?;
    tx.execute(
        "INSERT INTO orders (customer, sku, quantity) VALUES ($1, $2, $3)",
        &[&customer, &SKU, &quantity],
    )
    .await?;
    let in_stock: i64 = tx.query_one(read_stock, &[&SKU]).await?.get(0);
    if in_stock < quantity {
        tx.rollback().await?;
        return Err(format!("{SKU} is out of stock").into());
    }
    tx.execute(
        "UPDATE stock SET quantity = $1 WHERE sku = $2",
        &[&(in_stock - quantity), &SKU],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The buggy code: a plain read of the stock, then a write of what was read minus the order.
async fn sell(cx: Actor) -> Result<(), Error> {
    let mut db = connect(&cx).await?;
    wait_for_order(&cx).await;
    checkout(&mut db, cx.name(), READ_STOCK).await
}

/// The fix: the read locks the stock row until the checkout commits.
async fn sell_fixed(cx: Actor) -> Result<(), Error> {
    let mut db = connect(&cx).await?;
    wait_for_order(&cx).await;
    checkout(&mut db, cx.name(), READ_STOCK_FOR_UPDATE).await
}

fn scenario(name: &str) -> Scenario {
    Scenario::new(name)
        .database(
            DatabaseSpec::pg(DB)
                .setup("CREATE TABLE stock (sku text PRIMARY KEY, quantity bigint NOT NULL)")
                .setup(
                    "CREATE TABLE orders (id serial PRIMARY KEY, customer text NOT NULL, sku text NOT NULL, quantity bigint NOT NULL)",
                )
                .setup(format!(
                    "INSERT INTO stock (sku, quantity) VALUES ('{SKU}', {STOCK})"
                )),
        )
        .check(checks::actors_ok())
        .check(checks::conserved(
            "the stock plus the units ordered",
            &format!(
                "SELECT (SELECT quantity FROM stock WHERE sku = '{SKU}') + (SELECT coalesce(sum(quantity), 0) FROM orders WHERE sku = '{SKU}')"
            ),
            STOCK,
        ))
        .check(checks::serializable(&["stock", "orders"]))
        .max_sim_time(Duration::from_secs(60))
}

/// `checkout_lost_update`: two checkouts at random moments; one's read inside the other's write.
pub fn buggy() -> Scenario {
    scenario("checkout_lost_update")
        .actor("web-0", sell)
        .actor("web-1", sell)
        .expect(Expect::Race)
}

/// `checkout_lost_update_fixed`: the stock is read `FOR UPDATE`.
pub fn fixed() -> Scenario {
    scenario("checkout_lost_update_fixed")
        .actor("web-0", sell_fixed)
        .actor("web-1", sell_fixed)
        .expect(Expect::Clean)
}
