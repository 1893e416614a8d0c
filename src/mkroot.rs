//! Build a minimal root filesystem from host programs and their shared-library closure.
