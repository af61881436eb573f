//! Phone networks (work in progress).
