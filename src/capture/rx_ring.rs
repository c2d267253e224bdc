//! A TPACKET_V3 receive ring on a packet socket: the kernel writes frames into blocks of memory
//! it shares with us, and hands a block over by flipping its status word. Frames are read
//! where they lie, with no system call per frame; `poll(2)` is needed only when the ring is
//! empty.
//!
//! The kernel hands a block over when it is full or when the retire timeout has passed with at
//! least one frame in it, so a quiet link still delivers within `RETIRE_MS`.

use crate::timestamp::Timestamp;
use std::io;
use std::os::fd::RawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

/// One block: a power of two of pages, so the kernel allocates it in one piece. A 64 KiB
/// loopback frame fits whole (a frame may take up to a block, less the block header).
const BLOCK_SIZE: usize = 256 << 10;
/// 32 MiB in all. The kernel retires a block at least every `RETIRE_MS`, so at a low rate each
/// block holds only a few milliseconds of traffic: this many blocks let the reader stall for
/// ~128 × 5 ms before the kernel must drop.
const BLOCK_NR: usize = 128;
/// Nominal frame size (TPACKET_V3 packs frames of any size; the kernel checks only that
/// blocks divide into frames of this size).
const FRAME_SIZE: usize = 2048;
/// The block retire timeout, in milliseconds.
pub const RETIRE_MS: u32 = 5;

/// Offset of `tp_status`'s block counterpart, `hdr.bh1.block_status`, in a block descriptor.
const BLOCK_STATUS_OFFSET: usize = 8;
/// Where the kernel puts a frame's `sockaddr_ll`: after its header, aligned to 16.
const SLL_OFFSET: usize = (std::mem::size_of::<libc::tpacket3_hdr>() + libc::TPACKET_ALIGNMENT - 1)
    & !(libc::TPACKET_ALIGNMENT - 1);

/// The ring's memory, mapped from the socket; unmapped on drop.
pub struct RxRing {
    map: NonNull<u8>,
    map_len: usize,
    /// The block being read, or waited for.
    block: usize,
    /// Whether `block` is ours (the kernel set TP_STATUS_USER) and not yet given back.
    held: bool,
    /// Frames of the held block not yet read, and the offset of the next one in the block.
    left: u32,
    next_off: usize,
}

/// Where one frame lies in the ring, with what its header says; valid until the next
/// `RxRing::next` or `discard_ready`.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    /// Offset of the frame's first byte in the mapping.
    data_off: usize,
    /// Bytes captured.
    pub snaplen: u32,
    /// Bytes on the wire.
    pub wire_len: u32,
    /// The kernel's receive timestamp (TPACKET_V3 stamps in nanoseconds).
    pub ts: Timestamp,
    /// From the frame's `sockaddr_ll`: packet type (PACKET_HOST, PACKET_OUTGOING, ...).
    pub pkttype: u8,
    /// ARPHRD_ type of the device.
    pub hatype: u16,
    /// Link-layer address length and address.
    pub halen: u8,
    pub addr: [u8; 8],
    /// Protocol, in network byte order as the kernel stores it.
    pub protocol: u16,
}

impl RxRing {
    /// Switch `fd` (an AF_PACKET socket, not yet bound, so no frame is queued) to TPACKET_V3,
    /// set up its receive ring, and map it.
    pub fn attach(fd: RawFd) -> io::Result<RxRing> {
        let version = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        set_opt(fd, libc::PACKET_VERSION, &version)?;
        let req = libc::tpacket_req3 {
            tp_block_size: BLOCK_SIZE as libc::c_uint,
            tp_block_nr: BLOCK_NR as libc::c_uint,
            tp_frame_size: FRAME_SIZE as libc::c_uint,
            tp_frame_nr: (BLOCK_SIZE / FRAME_SIZE * BLOCK_NR) as libc::c_uint,
            tp_retire_blk_tov: RETIRE_MS,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        set_opt(fd, libc::PACKET_RX_RING, &req)?;
        let map_len = BLOCK_SIZE * BLOCK_NR;
        // SAFETY: a fresh shared mapping of the ring the kernel just allocated for `fd`, of
        // exactly its size; the result is checked before use.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let map = NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap gave null"))?;
        Ok(RxRing {
            map,
            map_len,
            block: 0,
            held: false,
            left: 0,
            next_off: 0,
        })
    }

    /// The status word of block `i`, shared with the kernel.
    fn status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: `i < BLOCK_NR`, so the word lies inside the mapping; blocks start on page
        // boundaries, so it is 4-aligned; the kernel and we only ever access it as a u32, and
        // an AtomicU32 has a u32's layout. It lives as long as the mapping, i.e. `self`.
        unsafe {
            &*self
                .map
                .as_ptr()
                .add(i * BLOCK_SIZE + BLOCK_STATUS_OFFSET)
                .cast()
        }
    }

    /// The block descriptor of block `i` (to be read only while the block is ours).
    fn desc(&self, i: usize) -> libc::tpacket_hdr_v1 {
        // SAFETY: inside the mapping (see `status`), 8-aligned like the page it starts; read
        // by value (unaligned-safe copy) after the Acquire load that made the block ours.
        unsafe {
            std::ptr::read_unaligned(
                self.map
                    .as_ptr()
                    .add(i * BLOCK_SIZE + BLOCK_STATUS_OFFSET)
                    .cast::<libc::tpacket_hdr_v1>(),
            )
        }
    }

    /// Give the held block back to the kernel and move to the next one.
    fn release(&mut self) {
        if self.held {
            // Release: our reads of the block happen before the kernel may write it again.
            self.status(self.block)
                .store(libc::TP_STATUS_KERNEL, Ordering::Release);
            self.held = false;
            self.left = 0;
            self.block = (self.block + 1) % BLOCK_NR;
        }
    }

    /// Take the current block if the kernel has handed it over.
    fn take(&mut self) -> bool {
        if self.held {
            return true;
        }
        // Acquire: the kernel's writes to the block are visible once we see its status.
        if self.status(self.block).load(Ordering::Acquire) & libc::TP_STATUS_USER == 0 {
            return false;
        }
        let d = self.desc(self.block);
        self.held = true;
        self.left = d.num_pkts;
        self.next_off = d.offset_to_first_pkt as usize;
        true
    }

    /// The next frame, if the kernel has handed over one not yet read. Gives back the block
    /// of the frame before it once that block is read through.
    pub fn next(&mut self) -> Option<Slot> {
        loop {
            if self.held && self.left == 0 {
                self.release();
            }
            if !self.take() {
                return None;
            }
            if self.left == 0 {
                continue;
            }
            self.left -= 1;
            match self.frame_at(self.next_off) {
                Some((slot, next)) => {
                    self.next_off += next;
                    return Some(slot);
                }
                // A header that does not fit its block: give up on the rest of the block.
                None => self.left = 0,
            }
        }
    }

    /// The frame whose header is at `off` in the held block, and the offset to the next.
    fn frame_at(&self, off: usize) -> Option<(Slot, usize)> {
        let hdr_len = SLL_OFFSET + std::mem::size_of::<libc::sockaddr_ll>();
        if off.checked_add(hdr_len)? > BLOCK_SIZE {
            return None;
        }
        let base = self.block * BLOCK_SIZE + off;
        // SAFETY: the header and the sockaddr_ll after it lie inside the held block (checked
        // above); the block is ours until `release`, so the kernel does not write it.
        let (h, sll) = unsafe {
            let p = self.map.as_ptr().add(base);
            (
                std::ptr::read_unaligned(p.cast::<libc::tpacket3_hdr>()),
                std::ptr::read_unaligned(p.add(SLL_OFFSET).cast::<libc::sockaddr_ll>()),
            )
        };
        let start = off.checked_add(usize::from(h.tp_mac))?;
        if start.checked_add(h.tp_snaplen as usize)? > BLOCK_SIZE {
            return None;
        }
        let slot = Slot {
            data_off: self.block * BLOCK_SIZE + start,
            snaplen: h.tp_snaplen,
            wire_len: h.tp_len,
            ts: Timestamp::from_secs_nanos(i64::from(h.tp_sec), i64::from(h.tp_nsec)),
            pkttype: sll.sll_pkttype,
            hatype: sll.sll_hatype,
            halen: sll.sll_halen,
            addr: sll.sll_addr,
            protocol: sll.sll_protocol,
        };
        Some((slot, h.tp_next_offset as usize))
    }

    /// The bytes of a frame `next` returned (valid until the next `next`).
    pub fn data(&self, slot: &Slot) -> &[u8] {
        debug_assert!(slot.data_off + slot.snaplen as usize <= self.map_len);
        // SAFETY: `frame_at` checked that the frame lies inside its block; the block is held
        // (not released before the next `next`/`discard_ready`, both `&mut self`), so the
        // kernel does not write it while this borrow of `self` lives.
        unsafe {
            std::slice::from_raw_parts(self.map.as_ptr().add(slot.data_off), slot.snaplen as usize)
        }
    }

    /// Give back every block the kernel has handed over, unread.
    pub fn discard_ready(&mut self) {
        self.release();
        while self.take() {
            self.release();
        }
    }

    /// Whether the block the kernel is filling already holds frames (it will hand it over
    /// within `RETIRE_MS`).
    pub fn filling(&self) -> bool {
        if self.held {
            return false;
        }
        // SAFETY: num_pkts of the current block, inside the mapping (see `status`), 4-aligned;
        // read volatile as the kernel may be updating it (a stale count only means one more
        // wait).
        let n = unsafe {
            std::ptr::read_volatile(
                self.map
                    .as_ptr()
                    .add(self.block * BLOCK_SIZE + BLOCK_STATUS_OFFSET + 4)
                    .cast::<u32>(),
            )
        };
        n > 0
    }
}

// SAFETY: the mapping is owned by this one value (no other handle to it in this process), and
// every access to it goes through `&self`/`&mut self`, so moving it to another thread is sound.
unsafe impl Send for RxRing {}

impl Drop for RxRing {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `attach`, of this length, unmapped once; no slice into
        // it outlives `self` (`data` borrows `self`).
        unsafe { libc::munmap(self.map.as_ptr().cast(), self.map_len) };
    }
}

fn set_opt<T>(fd: RawFd, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: passes a pointer to a live `T` and its size; the kernel copies it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_PACKET,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
