//! Target 5: from launching `image-vault serve` to its first 200 from
//! `/healthz`, with migrations already applied (and once on an empty
//! database, for comparison).

use crate::infra::{self, Env, S3Server, Server};

pub struct Options {
    pub runs: usize,
}

pub async fn run(opts: &Options) -> anyhow::Result<()> {
    let database = "iv_bench_startup";
    infra::drop_database(database).await?;
    let s3 = S3Server::start("startup").await?;
    let mut env = Env::new(database);
    s3.env(&mut env);

    let (server, fresh) = Server::serve(&env, "startup-serve", &["serve"]).await?;
    let db = infra::pg(database).await?;
    let migrations = infra::scalar(&db, "SELECT count(*) FROM __diesel_schema_migrations").await?;
    let plans = infra::scalar(&db, "SELECT count(*) FROM plans").await?;
    server.stop();
    println!(
        "startup: empty database (creates it, applies {migrations} migrations, seeds {plans} plans): /healthz after {:.0} ms",
        fresh.as_secs_f64() * 1000.0
    );

    let mut times = Vec::new();
    for _ in 0..opts.runs {
        let (server, up) = Server::serve(&env, "startup-serve", &["serve"]).await?;
        times.push(up.as_secs_f64() * 1000.0);
        server.stop();
    }
    let max = times.iter().copied().fold(0.0, f64::max);
    let min = times.iter().copied().fold(f64::INFINITY, f64::min);
    let median = infra::median(&mut times);
    println!(
        "startup: migrated database, {} launches: /healthz after min {min:.0} ms, median {median:.0} ms, max {max:.0} ms (target < 1000)",
        opts.runs
    );
    drop(db);
    infra::drop_database(database).await?;
    Ok(())
}
