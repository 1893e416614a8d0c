//! Landlock (todo)
