//! The pipeline's renderer for the full-screen view: it hands each event to the model,
//! which the caller also holds (one thread: `Rc<RefCell<_>>`).

use super::model::Model;
use crate::events::{Event, Meta, Summary};
use crate::render::Renderer;
use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;

/// Feeds a shared model.
pub struct Feed(pub Rc<RefCell<Model>>);

impl Renderer for Feed {
    fn start(&mut self, _meta: &Meta, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
    fn event(&mut self, event: &Event, _out: &mut dyn Write) -> io::Result<()> {
        self.0.borrow_mut().handle_event(event);
        Ok(())
    }
    fn finish(&mut self, _summary: &Summary, _out: &mut dyn Write) -> io::Result<()> {
        self.0.borrow_mut().finished = true;
        Ok(())
    }
}
