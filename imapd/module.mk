$(eval $(call program,imapd,tern-imapd,,))
