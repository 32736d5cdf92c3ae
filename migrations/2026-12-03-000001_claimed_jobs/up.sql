-- Jobs inserted already claimed (an upload hands its thumbnail job to an
-- idle worker of its own process) must not wake every worker: notify for
-- queued rows only. Row-level, so the condition can see the row; Postgres
-- folds the identical notifications of one transaction into one.
DROP TRIGGER IF EXISTS jobs_notify ON jobs;
CREATE TRIGGER jobs_notify AFTER INSERT ON jobs
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION jobs_notify();
