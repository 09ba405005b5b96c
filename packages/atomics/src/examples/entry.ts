import { here, type Owner, point, type RelatedSite, report, type Site, site } from "@primetime/sim";
import { Kref } from "../kref.js";

/**
 * The `struct my_data` of Documentation/core-api/kref.rst: a kmalloc()ed object with an embedded
 * kref. It is its own small slab object: it remembers where it was allocated and freed, and a
 * touch after kfree() (by the kref or by the scenario's code) is a KASAN report naming both
 * sites, as the kernel's KASAN does.
 *
 * Models a kmalloc()ed object under KASAN, reduced to one object: no slab, no redzones, no
 * quarantine; every access after kfree() is caught (the kernel can miss one once the memory is
 * reallocated).
 */
export class Entry implements Owner {
  readonly kref: Kref;
  private readonly allocated: Site;
  private freedAt: Site | null = null;

  /**
   * Models kmalloc() + kref_init(): the object starts with one reference, the creator's.
   * Locking: none: nobody else can see the object yet.
   * References: the caller owns the initial one.
   */
  constructor(readonly name: string) {
    this.allocated = here("kmalloc");
    this.kref = new Kref(this);
    this.kref.init();
  }

  /** True once kfree() has run. */
  get freed(): boolean {
    return this.freedAt !== null;
  }

  /**
   * The KASAN check of every access: reports a slab-use-after-free (with the alloc and free
   * sites) when the object has been freed, and says whether the access was legal.
   */
  checkAccess(op: string): boolean {
    if (this.freedAt === null) return true;
    report("kasan", `BUG: KASAN: slab-use-after-free in ${op}`, {
      object: this.name,
      sites: this.sites(),
    });
    return false;
  }

  /**
   * A read or write of the object's fields by `what` (the "do stuff with data here" of
   * kref.rst): a scheduling point, then the access check.
   * Locking: none: the caller must hold a reference.
   */
  async use(what: string): Promise<void> {
    await point(`${what}(${this.name})`);
    this.checkAccess(what);
  }

  /**
   * Models kfree(): a second kfree() is a KASAN double-free.
   * Locking: none: the caller's kref_put() saw the count reach 0, so it owns the object.
   * References: consumes the last one.
   */
  kfree(): void {
    if (this.freedAt !== null) {
      report("kasan", "BUG: KASAN: double-free", { object: this.name, sites: this.sites() });
      return;
    }
    this.freedAt = here("kfree");
  }

  private sites(): RelatedSite[] {
    const out = [site("allocated", this.allocated)];
    if (this.freedAt) out.push(site("freed", this.freedAt));
    return out;
  }
}
