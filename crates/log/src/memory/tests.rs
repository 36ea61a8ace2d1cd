use super::*;

fn record(sequence: u64) -> Record {
    Record { sequence, timestamp_ms: 1_000 + sequence, kind: 2, payload: format!("payload-{sequence}").into_bytes() }
}

fn records(range: std::ops::RangeInclusive<u64>) -> Vec<Record> {
    range.map(record).collect()
}

fn written(count: u64) -> MemoryStorage {
    let storage = MemoryStorage::new();
    MemoryLog::open(&storage).unwrap().append(&records(1..=count)).unwrap();
    storage
}

fn verify_all(log: &MemoryLog) -> Result<LogHead, ReadError> {
    crate::verify(log, |_| Ok::<(), ReadError>(()))
}

/// Start-up's view of a stopped log: refused at open, or by verification.
fn refusal(storage: &MemoryStorage) -> ReadError {
    match MemoryLog::open(storage) {
        Err(OpenError::Damaged(error)) => error,
        Err(other) => panic!("unexpected open error {other}"),
        Ok(log) => verify_all(&log).expect_err("a damaged log verifies"),
    }
}

#[test]
fn the_chain_and_head_are_the_sqlite_backends() {
    let directory = tempfile::tempdir().unwrap();
    let mut sqlite = crate::SqliteLog::open(&directory.path().join("log.db")).unwrap();
    let storage = MemoryStorage::new();
    let mut memory = MemoryLog::open(&storage).unwrap();
    assert_eq!(memory.append(&records(1..=7)).unwrap(), sqlite.append(&records(1..=7)).unwrap());
    assert_eq!(memory.head(), sqlite.head());
    assert_eq!(memory.read(3, 3).unwrap(), sqlite.read(3, 3).unwrap());
    let reopened = MemoryLog::open(&storage).unwrap();
    assert_eq!(verify_all(&reopened).unwrap(), sqlite.head());
    let reader = memory.open_reader().unwrap();
    memory.append(&[record(8)]).unwrap();
    assert_eq!(reader.head().sequence, 8, "a reader shares the storage it was opened on");
    assert!(matches!(memory.append(&[record(10)]), Err(AppendError::OutOfSequence { expected: 9, found: 10 })));
}

#[test]
fn a_failed_append_writes_nothing() {
    let storage = written(3);
    let mut log = MemoryLog::open(&storage).unwrap();
    storage.fail_next_append(AppendFault::Fail);
    assert!(matches!(log.append(&records(4..=5)), Err(AppendError::Storage(_))));
    assert_eq!(log.last_sequence(), 3);
    assert_eq!(log.append(&records(4..=5)).unwrap().len(), 2, "the fault is spent");
    assert_eq!(storage.fault_counts().failed_appends, 1);
}

#[test]
fn a_crash_before_the_sync_loses_the_batch_whether_or_not_its_last_record_is_torn() {
    for torn in [false, true] {
        let storage = written(3);
        let head = MemoryLog::open(&storage).unwrap().head();
        let mut log = MemoryLog::open(&storage).unwrap();
        storage.fail_next_append(AppendFault::CrashBeforeSync { torn });
        assert!(log.append(&records(4..=6)).is_err());
        drop(log);
        assert_eq!(storage.crash(torn), 3);
        let reopened = MemoryLog::open(&storage).unwrap();
        assert_eq!(reopened.head(), head);
        assert_eq!(verify_all(&reopened).unwrap(), head);
        assert_eq!(storage.fault_counts().torn_records, u64::from(torn));
    }
}

#[test]
fn a_crash_after_the_sync_keeps_the_batch() {
    let storage = written(3);
    let mut log = MemoryLog::open(&storage).unwrap();
    storage.fail_next_append(AppendFault::CrashAfterSync);
    assert!(log.append(&records(4..=5)).is_err());
    assert_eq!(storage.crash(false), 0);
    assert_eq!(verify_all(&MemoryLog::open(&storage).unwrap()).unwrap().sequence, 5);
}

#[test]
fn a_slow_sync_is_told_to_the_observer() {
    let storage = written(1);
    let waited = Arc::new(Mutex::new(0));
    let observed = Arc::clone(&waited);
    storage.set_sync_observer(Arc::new(move |delay_ms| *observed.lock().unwrap() += delay_ms));
    storage.slow_next_sync(250);
    let mut log = MemoryLog::open(&storage).unwrap();
    log.append(&[record(2)]).unwrap();
    log.append(&[record(3)]).unwrap();
    assert_eq!(*waited.lock().unwrap(), 250);
    assert_eq!(storage.fault_counts().slow_syncs, 1);
}

#[test]
fn damage_is_refused_with_the_errors_sqlite_gives_and_repair_undoes_it() {
    let cases = [
        Damage::CorruptRecord(4),
        Damage::DeleteRecord(5),
        Damage::DeleteLast,
        Damage::TruncateAfter(6),
        Damage::Unreadable { first: 3, last: 5 },
        Damage::LoseHead,
    ];
    for damage in cases {
        let storage = written(10);
        let done = storage.damage(damage).unwrap();
        assert_eq!(done, damage);
        let error = refusal(&storage);
        assert_eq!(error.sequence(), damage.first_damaged(10), "{damage:?}: {error}");
        match damage {
            Damage::CorruptRecord(_) => assert!(matches!(error, ReadError::Corrupt { .. })),
            Damage::DeleteRecord(_) => assert!(matches!(error, ReadError::Missing { .. })),
            Damage::DeleteLast | Damage::TruncateAfter(_) => assert!(matches!(error, ReadError::Truncated { .. })),
            Damage::Unreadable { .. } => assert!(matches!(error, ReadError::Unreadable { first: 3, last: 5, .. })),
            Damage::LoseHead => assert!(matches!(error, ReadError::HeadMissing)),
        }
        storage.repair();
        assert_eq!(verify_all(&MemoryLog::open(&storage).unwrap()).unwrap().sequence, 10, "{damage:?}");
    }
}

#[test]
fn lagging_syncs_lose_the_last_acknowledged_append_at_a_power_loss() {
    let storage = written(3);
    storage.make_syncs_lag();
    let mut log = MemoryLog::open(&storage).unwrap();
    log.append(&records(4..=5)).unwrap();
    log.append(&[record(6)]).unwrap();
    drop(log);
    assert_eq!(storage.crash(false), 1, "the last append was acknowledged but never stored");
    assert_eq!(verify_all(&MemoryLog::open(&storage).unwrap()).unwrap().sequence, 5);
}

#[test]
fn what_survives_a_process_crash_is_durable_once_the_log_is_opened_again() {
    let storage = written(3);
    let mut log = MemoryLog::open(&storage).unwrap();
    storage.fail_next_append(AppendFault::CrashBeforeSync { torn: false });
    assert!(log.append(&records(4..=5)).is_err());
    drop(log);
    // Only the process died: the records are in the storage, and opening keeps them.
    assert_eq!(MemoryLog::open(&storage).unwrap().last_sequence(), 5);
    assert_eq!(storage.crash(false), 0, "a power loss after the open loses nothing it read");
}
