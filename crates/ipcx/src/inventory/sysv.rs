//! System V objects from `/proc/sysvipc/{msg,shm,sem}`.

use std::collections::{BTreeSet, HashMap};

use super::procs::{PidCheck, ProcScan};
use super::{Creator, Kind, LastPid, Object};
use crate::key::Key;
use crate::sys::inventory::{sem_getpid, SysvTable};

/// One row of a `/proc/sysvipc` table, by column name.
struct Row<'a>(HashMap<&'a str, &'a str>);

impl Row<'_> {
    fn num(&self, col: &str) -> Option<u64> {
        self.0.get(col)?.parse().ok()
    }
    fn int(&self, col: &str) -> Option<i64> {
        self.0.get(col)?.parse().ok()
    }
}

fn rows(text: &str) -> Vec<Row<'_>> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let cols: Vec<&str> = header.split_ascii_whitespace().collect();
    lines
        .map(|l| {
            Row(cols
                .iter()
                .copied()
                .zip(l.split_ascii_whitespace())
                .collect())
        })
        .filter(|r| r.0.len() == cols.len())
        .collect()
}

/// The file of a table.
pub(crate) fn table_path(table: SysvTable) -> &'static str {
    match table {
        SysvTable::Msg => "/proc/sysvipc/msg",
        SysvTable::Shm => "/proc/sysvipc/shm",
        SysvTable::Sem => "/proc/sysvipc/sem",
    }
}

/// Lists one table; a note is added when it cannot be read.
pub(crate) fn list(
    table: SysvTable,
    scan: &ProcScan,
    pids: &PidCheck,
    out: &mut Vec<Object>,
    notes: &mut Vec<String>,
) {
    let path = table_path(table);
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            notes.push(format!(
                "{path}: {e}; System V objects of this kind not listed"
            ));
            return;
        }
    };
    for row in rows(&text) {
        if let Some(o) = object(table, &row, scan, pids) {
            out.push(o);
        }
    }
}

fn object(table: SysvTable, row: &Row<'_>, scan: &ProcScan, pids: &PidCheck) -> Option<Object> {
    let key = row.int("key")? as i32;
    let id_col = match table {
        SysvTable::Msg => "msqid",
        SysvTable::Shm => "shmid",
        SysvTable::Sem => "semid",
    };
    let id = row.num(id_col)?;
    let mode = u32::from_str_radix(row.0.get("perms")?, 8).ok()?;
    let uid = row.num("uid").map(|u| u as u32);
    let ctime = row.num("ctime").filter(|&t| t > 0);
    let name = if key == 0 {
        "IPC_PRIVATE".to_owned()
    } else {
        Key::from_raw(key)
            .map(|k| k.to_string())
            .unwrap_or_default()
    };
    let mut o = Object::new(
        match table {
            SysvTable::Msg => Kind::SysvMq,
            SysvTable::Shm => Kind::SysvShm,
            SysvTable::Sem => Kind::SysvSem,
        },
        name,
    );
    o.id = Some(id);
    o.key = Some(format!("0x{:08x}", key as u32));
    o.owner_uid = uid;
    o.mode = Some(mode & 0o777);
    o.created = ctime;
    let last = |pid: Option<u64>, role: &'static str, at: Option<u64>| -> Option<LastPid> {
        let pid = pid? as u32;
        (pid != 0).then(|| LastPid {
            pid,
            role,
            alive: pids.alive(pid, at),
        })
    };
    match table {
        SysvTable::Msg => {
            o.size = row.num("cbytes");
            o.count = row.num("qnum");
            o.last_pids
                .extend(last(row.num("lspid"), "msgsnd", row.num("stime")));
            o.last_pids
                .extend(last(row.num("lrpid"), "msgrcv", row.num("rtime")));
            o.users = blocked(&scan.blocked_msg, id);
            let live: Vec<u32> = o
                .last_pids
                .iter()
                .filter(|l| l.alive)
                .map(|l| l.pid)
                .collect();
            if !o.users.is_empty() {
                o.set_liveness(true, format!("{} waiting in msgsnd/msgrcv", join(&o.users)));
            } else if live.is_empty() {
                o.set_liveness(
                    false,
                    "no creator record (the kernel keeps none for queues); last msgsnd/msgrcv pids are dead and nobody waits in msgsnd/msgrcv",
                );
            } else {
                o.set_liveness(
                    true,
                    format!("last sender/receiver {} running", join(&live)),
                );
            }
        }
        SysvTable::Shm => {
            o.size = row.num("size");
            o.attached = row.num("nattch");
            if let Some(cpid) = row.num("cpid").filter(|&p| p != 0) {
                let cpid = cpid as u32;
                o.creator = Some(Creator {
                    pid: cpid,
                    start_time: None,
                    source: "kernel",
                    alive: pids.alive(cpid, ctime),
                });
            }
            let at = row.num("atime").max(row.num("dtime"));
            o.last_pids.extend(last(row.num("lpid"), "shmat/shmdt", at));
            let users: BTreeSet<u32> = scan.sysv_maps.get(&id).cloned().unwrap_or_default();
            o.users = users.into_iter().collect();
            let nattch = o.attached.unwrap_or(0);
            let creator_alive = o.creator.as_ref().is_some_and(|c| c.alive);
            if nattch > 0 {
                let who = if o.users.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", join(&o.users))
                };
                o.set_liveness(true, format!("attached {nattch} time(s){who}"));
            } else if creator_alive {
                o.set_liveness(true, "creator running");
            } else {
                o.set_liveness(false, "creator dead and nothing attached");
            }
        }
        SysvTable::Sem => {
            let nsems = row.num("nsems").unwrap_or(0);
            o.count = Some(nsems);
            o.created = ctime;
            let otime = row.num("otime").filter(|&t| t > 0);
            let mut seen = BTreeSet::new();
            for n in 0..nsems.min(256) {
                if let Ok(pid) = sem_getpid(id as i32, n as i32) {
                    if pid > 0 && seen.insert(pid as u32) {
                        o.last_pids.extend(last(Some(pid as u64), "semop", otime));
                    }
                }
            }
            o.users = blocked(&scan.blocked_sem, id);
            let live: Vec<u32> = o
                .last_pids
                .iter()
                .filter(|l| l.alive)
                .map(|l| l.pid)
                .collect();
            if !o.users.is_empty() {
                o.set_liveness(true, format!("{} waiting in semop", join(&o.users)));
            } else if live.is_empty() {
                o.set_liveness(
                    false,
                    "no creator record (the kernel keeps none for sets); last semop pids are dead or none and nobody waits in semop",
                );
            } else {
                o.set_liveness(true, format!("last semop by {} running", join(&live)));
            }
        }
    }
    Some(o)
}

/// The pids blocked in a call on object `id`.
fn blocked(table: &std::collections::HashMap<u64, BTreeSet<u32>>, id: u64) -> Vec<u32> {
    table
        .get(&id)
        .map(|p| p.iter().copied().collect())
        .unwrap_or_default()
}

/// `1, 2, 3`.
pub(crate) fn join(pids: &[u32]) -> String {
    pids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
