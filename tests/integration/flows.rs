//! Workflows that branch, loop and check in parallel, end to end: real
//! rules judge each iteration, a restarted server resumes mid-loop,
//! rollback returns into a loop, and a checkpoint's rules overlap unless
//! they would run the same program in the same directory.

mod branches;
mod frozen;
mod parallel;
