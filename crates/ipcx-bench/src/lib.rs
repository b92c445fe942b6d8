//! The benchmark engine behind `ipcx bench`: scenarios, process orchestration,
//! statistics and reports.
