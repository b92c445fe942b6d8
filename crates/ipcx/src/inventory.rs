//! An inventory of the IPC objects on this machine: what `ipcx ls` lists and `ipcx rm` removes.
