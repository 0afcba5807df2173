void wa_process_shim_placeholder(void);
