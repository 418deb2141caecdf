//! Postel SMTP server simulator (work in progress).
